// The handler kit's one flow, shared by the fetch-style handler and the
// Node adapters (Express, Fastify), which give it the request target exactly
// as Node read it rather than as a `Request` URL re-encodes it.
import { type PostbackIssue, readBytes } from "@org/postback-schema/plain"
import { type Answer, acceptedAnswer, answerOf, errorAnswer, unavailableAnswer } from "../Answer.ts"
import type { Classification, PostbackSource, RawDelivery } from "../Delivery.ts"
import type { PostbackHandlerOptions } from "../Handler.ts"
import { makePostbackIngest } from "../Ingest.ts"

/** The message of the `TypeError` for a body a body parser read first. */
export const BODY_ALREADY_READ =
  "the request body was already read; mount the postback handler before any body parser"

/** Where the body comes from: a stream to read, bytes read already, none, or gone. */
export type BodySource = ReadableStream<Uint8Array> | Uint8Array | null | "consumed"

/** One request, as an adapter gives it. */
export interface Incoming {
  readonly method: string
  /** The request target the core reads (a path with its query, or an absolute URL). */
  readonly target: string
  /** Called once the request is admitted (GET or POST with the secret): the `Request` for the callbacks and the body. */
  readonly open: () => { readonly request: Request; readonly body: BodySource }
}

export interface Kit {
  readonly maxBodyBytes: number
  /** The refusal decided before reading anything (405, 414, 401, HEAD probe), if any. */
  readonly admit: (method: string, target: string) => Answer | undefined
  /** The 413 answer for a body past `maxBodyBytes`. */
  readonly tooLarge: Answer
  readonly handle: (incoming: Incoming) => Promise<Answer>
}

const report = (what: string, error: unknown): void => {
  console.error(`@org/postback-handler: ${what}`, error)
}

export const makeKit = (options: PostbackHandlerOptions): Kit => {
  const ingest = makePostbackIngest(options)
  const { onPostback, onRejected } = options
  if (typeof onPostback !== "function") {
    throw new TypeError(
      `option onPostback must be a function that stores the postback, got ${String(onPostback)}`
    )
  }
  if (onRejected !== undefined && typeof onRejected !== "function") {
    throw new TypeError(`option onRejected must be a function, got ${String(onRejected)}`)
  }
  const max = ingest.maxBodyBytes
  const tooLarge = answerOf({
    _tag: "TooLarge",
    status: 413,
    message: `the request body has more than ${max} bytes, the limit`
  })

  const reject = async (
    request: Request,
    source: PostbackSource,
    issues: ReadonlyArray<PostbackIssue>,
    raw: RawDelivery
  ): Promise<Answer> => {
    if (onRejected !== undefined) {
      try {
        await onRejected({ issues, source, raw, request })
      } catch (error) {
        report("onRejected failed; the answer stays 400", error)
      }
    }
    return answerOf({ _tag: "Rejected", status: 400, source, issues, raw })
  }

  const settle = async (request: Request, outcome: Classification): Promise<Answer> => {
    switch (outcome._tag) {
      case "Accepted": {
        const held = outcome.holds.length > 0
        try {
          await onPostback({
            postback: outcome.postback,
            identity: outcome.identity,
            source: outcome.source,
            status: held ? "held" : "accepted",
            holds: outcome.holds,
            flags: outcome.flags,
            raw: outcome.raw,
            request
          })
        } catch (error) {
          report("onPostback failed; answered 503 (the sender retries)", error)
          return unavailableAnswer()
        }
        return acceptedAnswer(outcome.identity, held)
      }
      case "Rejected":
        return reject(request, outcome.source, outcome.issues, outcome.raw)
      default:
        return answerOf(outcome)
    }
  }

  const admit = (method: string, target: string): Answer | undefined => {
    const refused = ingest.admit({ method, url: target })
    return refused === undefined ? undefined : answerOf(refused)
  }

  const handle = async (incoming: Incoming): Promise<Answer> => {
    const receivedAt = new Date()
    const admitted = ingest.admitRequest({ method: incoming.method, url: incoming.target })
    if (admitted._tag !== "Admitted") return answerOf(admitted)
    const { request, body } = incoming.open()
    const method = incoming.method.toUpperCase()
    const url = incoming.target
    const contentType = request.headers.get("content-type")
    // A GET carries its postback in the query: a body it may have is not read.
    if (method !== "POST") {
      return settle(request, ingest.classify({ method, url, contentType, receivedAt, admitted }))
    }
    const declared = Number(request.headers.get("content-length") ?? Number.NaN)
    if (declared > max) return tooLarge
    if (body === "consumed") throw new TypeError(BODY_ALREADY_READ)
    let read: Uint8Array | "too large"
    try {
      read =
        body === null
          ? new Uint8Array()
          : body instanceof Uint8Array
            ? body
            : await readBytes(body, max)
    } catch (error) {
      // The client went away mid-body: nobody reads this answer.
      return errorAnswer(
        400,
        `the request body could not be read: ${error instanceof Error ? error.message : String(error)}`
      )
    }
    if (read === "too large" || read.byteLength > max) return tooLarge
    return settle(
      request,
      await ingest.classifyEncoded({
        method,
        url,
        contentType,
        contentEncoding: request.headers.get("content-encoding"),
        body: read,
        receivedAt,
        admitted
      })
    )
  }

  return { maxBodyBytes: max, admit, tooLarge, handle }
}
