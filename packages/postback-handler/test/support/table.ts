// The delivery table run through one way of serving the handler kit (the
// Web handler called directly, or an adapter over real HTTP): every case is
// sent with its exact bytes, and the answer plus what `onPostback` and
// `onRejected` received are compared with the case.
import { request as httpRequest } from "node:http"
import { afterAll, describe, expect, it } from "@effect/vitest"
import {
  ERROR_CODES,
  type PostbackEvent,
  type PostbackHandlerOptions,
  type RejectedEvent
} from "../../src/index.ts"
import { expectOutcome, type Observed } from "../fixtures/check.ts"
import {
  caseBody,
  caseContentEncoding,
  caseQuery,
  DELIVERY_CASES,
  type DeliveryCase,
  FIXTURE_SECRET
} from "../fixtures/deliveries.ts"

/** One request as sent: the method, the target (path and query) and exact bytes. */
export interface Sending {
  readonly method: string
  readonly target: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: Uint8Array | undefined
}

/** One answer: status, headers (lowercase names) and body text. */
export interface Sent {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A running way of serving the kit. */
export interface Endpoint {
  readonly send: (sending: Sending) => Promise<Sent>
  readonly close: () => Promise<void>
}

/** Starts one way of serving the kit with these options. */
export type Serve = (options: PostbackHandlerOptions) => Promise<Endpoint>

/**
 * Sends exact bytes over HTTP with `node:http` (fetch would add headers and
 * normalise the target). A new connection per request: an answer with
 * `Connection: close` (413) ends its own.
 */
export const sendHttp =
  (origin: string) =>
  (sending: Sending): Promise<Sent> => {
    const url = new URL(origin)
    return new Promise((resolve, reject) => {
      let done = false
      const request = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: sending.method,
          path: sending.target,
          headers: sending.headers,
          agent: false
        },
        (response) => {
          const chunks: Array<Uint8Array> = []
          response.on("data", (chunk: Uint8Array) => chunks.push(chunk))
          response.on("end", () => {
            done = true
            const headers: Record<string, string> = {}
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined)
                headers[name] = Array.isArray(value) ? value.join(", ") : value
            }
            resolve({
              status: response.statusCode ?? 0,
              headers,
              body: new TextDecoder().decode(Buffer.concat(chunks))
            })
          })
        }
      )
      // A server that answers before reading a large body may close while it
      // is still being written: the answer counts, not the write.
      request.on("error", (error) => {
        if (!done) reject(error)
      })
      request.end(sending.body)
    })
  }

/** Serves a Node `http.Server` on 127.0.0.1 at a free port. */
export const listen = async (
  server: import("node:http").Server
): Promise<{ readonly origin: string; readonly close: () => Promise<void> }> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error === undefined ? resolve() : reject(error)))
      })
  }
}

/** The request a case is sent as. */
export const sendingOf = async (c: DeliveryCase): Promise<Sending> => {
  const body = await caseBody(c)
  const headers: Record<string, string> = {}
  if (c.contentType !== undefined) headers["content-type"] = c.contentType
  const encoding = caseContentEncoding(c)
  if (encoding !== undefined) headers["content-encoding"] = encoding
  if (body !== undefined) headers["content-length"] = String(body.byteLength)
  else if (c.method === "POST") headers["content-length"] = "0"
  return { method: c.method, target: `/postbacks?${caseQuery(c)}`, headers, body }
}

const JSON_TYPE = "application/json; charset=utf-8"

/** What a case's answer and callbacks show, checked for what every case must hold. */
const observe = (
  c: DeliveryCase,
  sent: Sent,
  events: ReadonlyArray<PostbackEvent>,
  rejected: ReadonlyArray<RejectedEvent>
): Observed => {
  const head = c.method === "HEAD"
  if (sent.status === 200 && !head) {
    expect(events, `${c.name}: onPostback calls`).toHaveLength(1)
    expect(rejected).toHaveLength(0)
    const event = events[0]!
    expect(sent.headers["content-type"]).toBe(JSON_TYPE)
    expect(JSON.parse(sent.body)).toEqual({ status: event.status, identity: event.identity })
    expect(event.status).toBe(event.holds.length > 0 ? "held" : "accepted")
    expect(JSON.stringify(event.raw)).not.toContain(FIXTURE_SECRET)
    expect(event.request.method).toBe(c.method)
    const { postback } = event
    return {
      status: sent.status,
      held: event.status === "held",
      source: event.source,
      flags: event.flags.map((f) => f.code),
      paths: event.holds.map((h) => h.path),
      postback: {
        offerId: postback.offerId,
        payout: postback.payout.toString(),
        timestamp: postback.timestamp.toISOString(),
        isLoyaltyBoost: postback.isLoyaltyBoost,
        payload: postback.payload
      }
    }
  }
  expect(events, `${c.name}: onPostback calls`).toHaveLength(0)
  if (head) {
    expect(sent.body).toBe("")
    return { status: sent.status }
  }
  expect(sent.headers["content-type"]).toBe(JSON_TYPE)
  const body = JSON.parse(sent.body) as {
    readonly error: string
    readonly message: string
    readonly issues?: ReadonlyArray<{ readonly path: string; readonly message: string }>
  }
  expect(body.error).toBe(ERROR_CODES[sent.status as keyof typeof ERROR_CODES])
  expect(body.message).toEqual(expect.any(String))
  if (sent.status === 405) expect(sent.headers.allow).toBe("GET, HEAD, POST")
  if (sent.status !== 400) {
    expect(rejected).toHaveLength(0)
    return { status: sent.status, message: body.message }
  }
  expect(rejected, `${c.name}: onRejected calls`).toHaveLength(1)
  const refused = rejected[0]!
  expect(refused.issues).toEqual(body.issues)
  expect(JSON.stringify(refused.raw)).not.toContain(FIXTURE_SECRET)
  return {
    status: sent.status,
    source: refused.source,
    paths: body.issues?.map((i) => i.path),
    message: body.message
  }
}

/** Runs the whole delivery table through `serve`, one case per test. */
export const describeDeliveryTable = (label: string, serve: Serve): void => {
  describe(`the delivery table, ${label}`, () => {
    const events: Array<PostbackEvent> = []
    const rejected: Array<RejectedEvent> = []
    // One endpoint per set of options (the default, and each template).
    const endpoints = new Map<string, Promise<Endpoint>>()
    const endpointFor = (c: DeliveryCase): Promise<Endpoint> => {
      const key = JSON.stringify(c.options ?? {})
      let endpoint = endpoints.get(key)
      if (endpoint === undefined) {
        endpoint = serve({
          secret: FIXTURE_SECRET,
          ...c.options,
          onPostback: (event) => {
            events.push(event)
          },
          onRejected: (event) => {
            rejected.push(event)
          }
        })
        endpoints.set(key, endpoint)
      }
      return endpoint
    }
    afterAll(async () => {
      for (const endpoint of endpoints.values()) await (await endpoint).close()
    })

    it.each(DELIVERY_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
      events.length = 0
      rejected.length = 0
      const endpoint = await endpointFor(c)
      const sent = await endpoint.send(await sendingOf(c))
      expectOutcome(c, observe(c, sent, events, rejected))
    })
  })
}

/** A promise and the function that resolves it. */
export const deferred = (): { readonly promise: Promise<void>; readonly release: () => void } => {
  let release = (): void => undefined
  const promise = new Promise<void>((resolve) => {
    release = resolve
  })
  return { promise, release }
}
