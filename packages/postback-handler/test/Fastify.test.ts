import { describe, expect, it } from "@effect/vitest"
import Fastify, { type FastifyInstance } from "fastify"
import { postbackFastify } from "../src/fastify.ts"
import type { PostbackEvent } from "../src/index.ts"
import { DELIVERY_CASES, FIXTURE_SECRET } from "./fixtures/deliveries.ts"
import { describeDeliveryTable, type Serve, sendHttp, sendingOf } from "./support/table.ts"

const start = async (app: FastifyInstance) => {
  await app.listen({ port: 0, host: "127.0.0.1" })
  const address = app.server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  return { send: sendHttp(`http://127.0.0.1:${address.port}`), close: () => app.close() }
}

// A GET of 16 KB or more (query plus headers) needs more than Node's default
// 16 KB of request headers: the table sends one past 32 KB, for the kit's 414.
const serve: Serve = async (options) => {
  const app = Fastify({ http: { maxHeaderSize: 65_536 } })
  await app.register(postbackFastify, { path: "/postbacks", ...options })
  return start(app)
}

describeDeliveryTable("through Fastify over HTTP", serve)

const docsCase = DELIVERY_CASES.find((c) => c.name === "the docs' POST JSON body")!

describe("postbackFastify", () => {
  it("replaces the body parsers in its own scope only", async () => {
    const events: Array<PostbackEvent> = []
    const app = Fastify()
    app.post("/echo", async (request) => ({ parsed: request.body }))
    await app.register(postbackFastify, {
      path: "/postbacks",
      secret: FIXTURE_SECRET,
      onPostback: (event) => {
        events.push(event)
      }
    })
    const endpoint = await start(app)
    try {
      expect((await endpoint.send(await sendingOf(docsCase))).status).toBe(200)
      expect(events).toHaveLength(1)
      const echo = await endpoint.send({
        method: "POST",
        target: "/echo",
        headers: { "content-type": "application/json" },
        body: new TextEncoder().encode('{"a":1}')
      })
      expect(JSON.parse(echo.body)).toEqual({ parsed: { a: 1 } })
    } finally {
      await endpoint.close()
    }
  })

  it("answers a streamed body past the limit with the kit's 413, not Fastify's error", async () => {
    const app = Fastify()
    await app.register(postbackFastify, {
      secret: FIXTURE_SECRET,
      maxBodyBytes: 1000,
      onPostback: () => undefined
    })
    const endpoint = await start(app)
    try {
      const sending = await sendingOf(docsCase)
      const { "content-length": _, ...headers } = sending.headers
      const sent = await endpoint.send({
        ...sending,
        headers: { ...headers, "transfer-encoding": "chunked" },
        body: new Uint8Array(5000).fill(0x20)
      })
      expect(sent.status).toBe(413)
      expect(JSON.parse(sent.body)).toEqual({
        error: "payload_too_large",
        message: "the request body has more than 1000 bytes, the limit"
      })
    } finally {
      await endpoint.close()
    }
  })

  it("checks its options when registered, naming the bad one", async () => {
    const app = Fastify()
    await expect(
      app.register(postbackFastify, {
        path: "postbacks",
        secret: FIXTURE_SECRET,
        onPostback: () => undefined
      })
    ).rejects.toThrow(/option path/)
    const other = Fastify()
    await expect(
      other.register(postbackFastify, { secret: "short", onPostback: () => undefined })
    ).rejects.toThrow(/option secret/)
  })
})

describe("postbackFastify and the Content-Type", () => {
  it("reads a body under a Content-Type Fastify would refuse (json, text) by its shape", async () => {
    const events: Array<PostbackEvent> = []
    const app = Fastify()
    await app.register(postbackFastify, {
      secret: FIXTURE_SECRET,
      onPostback: (event) => {
        events.push(event)
      }
    })
    const endpoint = await start(app)
    try {
      const sending = await sendingOf(docsCase)
      for (const type of ["json", "text"]) {
        const sent = await endpoint.send({
          ...sending,
          headers: { ...sending.headers, "content-type": type }
        })
        expect(sent.status, type).toBe(200)
      }
      expect(events.map((e) => e.raw.contentType)).toEqual(["json", "text"])
      expect(events.map((e) => e.request.headers.get("content-type"))).toEqual(["json", "text"])
    } finally {
      await endpoint.close()
    }
  })
})
