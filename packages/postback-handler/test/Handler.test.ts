import { describe, expect, it, vi } from "@effect/vitest"
import {
  createPostbackHandler,
  type PostbackEvent,
  type PostbackHandlerOptions,
  postbackIdentity,
  type RejectedEvent
} from "../src/index.ts"
import { FIXTURE_SECRET } from "./fixtures/deliveries.ts"
import { deferred, describeDeliveryTable, type Sent, type Serve } from "./support/table.ts"

const answerOf = async (response: Response): Promise<Sent> => ({
  status: response.status,
  headers: Object.fromEntries(response.headers),
  body: await response.text()
})

// The Web handler called with a `Request` directly, no server in between.
const direct: Serve = async (options) => {
  const handler = createPostbackHandler(options)
  return {
    send: async ({ method, target, headers, body }) =>
      answerOf(
        await handler(
          new Request(`http://127.0.0.1${target}`, {
            method,
            headers,
            ...(body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> })
          })
        )
      ),
    close: async () => undefined
  }
}

describeDeliveryTable("through the Web handler", direct)

const DOCS_JSON =
  '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.10","timestamp":"2023-09-20T15:27:40.802Z","is_loyaltyboost":"1","payload":{"user_id":"3410444"}}'
const URL_WITH_SECRET = `http://127.0.0.1/postbacks?secret=${FIXTURE_SECRET}`
const post = (body: BodyInit | null = DOCS_JSON, init: RequestInit = {}, url = URL_WITH_SECRET) =>
  new Request(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    ...init
  })

const handlerWith = (options: Partial<PostbackHandlerOptions> = {}) => {
  const events: Array<PostbackEvent> = []
  const rejected: Array<RejectedEvent> = []
  const handler = createPostbackHandler({
    secret: FIXTURE_SECRET,
    onPostback: (event) => {
      events.push(event)
    },
    onRejected: (event) => {
      rejected.push(event)
    },
    ...options
  })
  return { handler, events, rejected }
}

describe("createPostbackHandler", () => {
  it("gives onPostback the postback, its identity, source, status and the request", async () => {
    const { handler, events } = handlerWith()
    const request = post()
    const response = await handler(request)
    expect(response.status).toBe(200)
    expect(events).toHaveLength(1)
    const event = events[0]!
    expect(event.request).toBe(request)
    expect(event).toMatchObject({
      source: "post-json",
      status: "accepted",
      holds: [],
      flags: [],
      raw: {
        method: "POST",
        path: "/postbacks",
        query: {},
        contentType: "application/json",
        body: DOCS_JSON,
        bodyEncoding: "utf8"
      }
    })
    expect(event.postback.offerId).toBe("1511")
    expect(event.postback.payout.toString()).toBe("2.10")
    expect(event.postback.payload).toEqual({ user_id: "3410444" })
    expect(event.identity).toBe(postbackIdentity(event.postback))
    expect(await response.json()).toEqual({ status: "accepted", identity: event.identity })
  })

  it("marks a postback held with what to look at, and answers 200 held", async () => {
    const { handler, events } = handlerWith()
    const response = await handler(
      new Request(`${URL_WITH_SECRET}&${"offer_id=1511&payout=2.10&user_id=Z%F6e"}`)
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ status: "held" })
    expect(events[0]!.status).toBe("held")
    expect(events[0]!.holds.map((h) => h.path)).toEqual(["payload.user_id"])
    expect(events[0]!.flags.map((f) => f.code)).toContain("unstorable_text")
  })

  it("answers 200 only after onPostback resolved", async () => {
    const stored = deferred()
    let answered = false
    const { handler } = handlerWith({ onPostback: () => stored.promise })
    const response = handler(post()).then((r) => {
      answered = true
      return r
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(answered).toBe(false)
    stored.release()
    expect((await response).status).toBe(200)
    expect(answered).toBe(true)
  })

  it("answers 503 with Retry-After when onPostback rejects or throws, and reports the error", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined)
    try {
      for (const onPostback of [
        () => Promise.reject(new Error("database down")),
        () => {
          throw new Error("database down")
        }
      ]) {
        const { handler } = handlerWith({ onPostback })
        const response = await handler(post())
        expect(response.status).toBe(503)
        expect(response.headers.get("retry-after")).toBe("60")
        expect(await response.json()).toEqual({
          error: "unavailable",
          message: "the postback was not stored; retry later"
        })
      }
      expect(errors).toHaveBeenCalledTimes(2)
      expect(String(errors.mock.calls[0]![0])).toContain("onPostback failed")
    } finally {
      errors.mockRestore()
    }
  })

  it("gives onRejected every 400 and keeps the 400 when onRejected fails", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined)
    try {
      const seen: Array<RejectedEvent> = []
      const { handler } = handlerWith({
        onRejected: (event) => {
          seen.push(event)
          return Promise.reject(new Error("log store down"))
        }
      })
      const request = post('{"offer_id":"1511","payout":"abc"}')
      const response = await handler(request)
      expect(response.status).toBe(400)
      const body = (await response.json()) as { issues: Array<{ path: string }> }
      expect(body.issues.map((i) => i.path)).toContain("payout")
      expect(seen).toHaveLength(1)
      expect(seen[0]!.request).toBe(request)
      expect(seen[0]!.source).toBe("post-json")
      expect(seen[0]!.raw.body).toBe('{"offer_id":"1511","payout":"abc"}')
      expect(errors).toHaveBeenCalledOnce()
    } finally {
      errors.mockRestore()
    }
  })

  it("keeps a body that is not what its Content-Encoding claims as it was sent, without the secret", async () => {
    const { handler, rejected } = handlerWith()
    const response = await handler(
      post(`{"secret":"${FIXTURE_SECRET}","offer_id":"1"}`, {
        headers: { "content-type": "application/json", "content-encoding": "gzip" }
      })
    )
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({
      error: "invalid_postback",
      issues: [{ path: "", message: expect.stringContaining("not valid gzip") }]
    })
    expect(rejected).toHaveLength(1)
    expect(rejected[0]).toMatchObject({ source: "post-json", raw: { body: '{"offer_id":"1"}' } })
  })

  it("answers a HEAD with the secret 200 and no body, and keeps nothing", async () => {
    const { handler, events } = handlerWith()
    const response = await handler(new Request(URL_WITH_SECRET, { method: "HEAD" }))
    expect(response.status).toBe(200)
    expect(response.body).toBeNull()
    expect(events).toHaveLength(0)
  })

  it("throws a TypeError, not a 400, for a body a body parser read first", async () => {
    const { handler } = handlerWith()
    const request = post()
    await request.text()
    await expect(handler(request)).rejects.toThrow(
      new TypeError(
        "the request body was already read; mount the postback handler before any body parser"
      )
    )
  })

  it("refuses a caller without the secret before anything else, a read body included", async () => {
    const { handler } = handlerWith()
    const request = post(DOCS_JSON, {}, "http://127.0.0.1/postbacks")
    await request.text()
    expect((await handler(request)).status).toBe(401)
  })

  it("answers 413 for a declared Content-Length past the limit without reading the body", async () => {
    const { handler } = handlerWith({ maxBodyBytes: 1000 })
    const request = post("x".repeat(1001), {
      headers: { "content-type": "application/json", "content-length": "1001" }
    })
    const response = await handler(request)
    expect(response.status).toBe(413)
    expect(response.headers.get("connection")).toBe("close")
    expect(await response.json()).toMatchObject({ error: "payload_too_large" })
    expect(request.bodyUsed).toBe(false)
  })

  it("stops reading a body without a length as soon as it passes the limit", async () => {
    let chunks = 0
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        chunks++
        controller.enqueue(new Uint8Array(400).fill(0x61))
      },
      cancel() {
        cancelled = true
      }
    })
    const { handler, events } = handlerWith({ maxBodyBytes: 1000 })
    const response = await handler(post(body, { duplex: "half" } as RequestInit))
    expect(response.status).toBe(413)
    expect(cancelled).toBe(true)
    expect(chunks).toBeLessThanOrEqual(4)
    expect(events).toHaveLength(0)
  })

  it("checks its options at once, naming the bad one", () => {
    const make = (options: unknown) => () =>
      createPostbackHandler(options as PostbackHandlerOptions)
    expect(make({ secret: FIXTURE_SECRET })).toThrow(/option onPostback must be a function/)
    expect(make({ secret: FIXTURE_SECRET, onPostback: () => undefined, onRejected: 1 })).toThrow(
      /option onRejected must be a function/
    )
    expect(make({ secret: "short", onPostback: () => undefined })).toThrow(/option secret/)
    expect(make({ secret: FIXTURE_SECRET, onPostback: () => undefined, maxBodyBytes: 0 })).toThrow(
      /option maxBodyBytes/
    )
  })
})
