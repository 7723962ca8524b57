// A Node `IncomingMessage` (as Express and Fastify give it) seen as the kit's
// `Incoming`, and an answer written to a Node `ServerResponse`, through the
// shapes alone: no `node:` import, so the package stays Web-only.
import type { Answer } from "../Answer.ts"
import type { BodySource, Incoming } from "./handle.ts"

/** What the adapters use of Node's `IncomingMessage`. */
export interface NodeRequestLike {
  readonly method?: string | undefined
  /** The request target as Node read it (a path with its query). */
  readonly url?: string | undefined
  readonly headers: { readonly [name: string]: string | ReadonlyArray<string> | undefined }
  /** `true` once the body stream has ended: someone read it. */
  readonly readableEnded?: boolean | undefined
  /** A TLS socket has `encrypted: true`. */
  readonly socket?: object | null | undefined
  on(event: string, listener: (...args: Array<unknown>) => void): unknown
  off(event: string, listener: (...args: Array<unknown>) => void): unknown
  pause(): unknown
  resume(): unknown
}

/** What the adapters use of Node's `ServerResponse`. */
export interface NodeResponseLike {
  statusCode: number
  setHeader(name: string, value: string): unknown
  end(chunk: string): unknown
}

const ENCODER = new TextEncoder()

/**
 * The body of `request` as a Web stream. Cancelling it (a body past the
 * limit) only pauses the Node stream: destroying it would close the
 * connection before the `413` is written (the answer's `Connection: close`
 * ends it after).
 */
const bodyStream = (request: NodeRequestLike): ReadableStream<Uint8Array> => {
  let detach = (): void => undefined
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let ended = false
      const onData = (chunk: unknown): void => {
        // A Buffer (a Uint8Array), or a string when someone set an encoding.
        controller.enqueue(chunk instanceof Uint8Array ? chunk : ENCODER.encode(String(chunk)))
        if ((controller.desiredSize ?? 0) <= 0) request.pause()
      }
      const onEnd = (): void => {
        ended = true
        detach()
        controller.close()
      }
      const onError = (error: unknown): void => {
        detach()
        controller.error(error)
      }
      const onClose = (): void => {
        if (!ended) onError(new Error("the connection closed before the request body ended"))
      }
      request.on("data", onData)
      request.on("end", onEnd)
      request.on("error", onError)
      request.on("close", onClose)
      detach = () => {
        request.off("data", onData)
        request.off("end", onEnd)
        request.off("error", onError)
        request.off("close", onClose)
      }
    },
    pull() {
      request.resume()
    },
    cancel() {
      detach()
      request.pause()
    }
  })
}

/**
 * The kit's view of a Node request. `parsed`: the body's bytes when a
 * framework read them already (Fastify's buffer parser, Express's
 * `express.raw()`); `decoded` when that framework also undid the
 * `Content-Encoding` (body-parser does).
 */
export const fromNode = (
  request: NodeRequestLike,
  target: string,
  parsed?: { readonly body: Uint8Array | undefined; readonly decoded: boolean }
): Incoming => ({
  method: request.method ?? "GET",
  target,
  open: () => {
    const headers = new Headers()
    for (const [name, value] of Object.entries(request.headers)) {
      // HTTP/2 pseudo-headers (`:path`) are not headers of a `Request`.
      if (value === undefined || name.startsWith(":")) continue
      if (parsed?.decoded === true && (name === "content-encoding" || name === "content-length")) {
        continue
      }
      if (typeof value === "string") headers.set(name, value)
      else for (const v of value) headers.append(name, v)
    }
    const body: BodySource =
      parsed !== undefined
        ? (parsed.body ?? null)
        : request.readableEnded === true
          ? "consumed"
          : bodyStream(request)
    return { request: webRequest(request, target, headers), body }
  }
})

/** The `Request` given to the callbacks: the method, URL and headers (the body is read by then). */
const webRequest = (request: NodeRequestLike, target: string, headers: Headers): Request => {
  const socket = request.socket
  const scheme =
    typeof socket === "object" &&
    socket !== null &&
    "encrypted" in socket &&
    socket.encrypted === true
      ? "https"
      : "http"
  const host = headers.get("host") ?? "localhost"
  let url: URL
  try {
    url = new URL(target, `${scheme}://${host}`)
  } catch {
    // A Host header that is not a host: the URL for the callbacks keeps the path.
    const path = target.startsWith("/") && !target.startsWith("//") ? target : "/"
    url = new URL(`http://localhost${path}`)
  }
  return new Request(url, { method: request.method ?? "GET", headers })
}

/** Writes `answer` to a Node response (Node leaves out the body of a HEAD answer itself). */
export const writeAnswer = (response: NodeResponseLike, answer: Answer): void => {
  response.statusCode = answer.status
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value)
  response.end(answer.body)
}
