import { describe, expect, it } from "@effect/vitest"
import { serve as serveNode } from "@hono/node-server"
import { Hono } from "hono"
import { postbackHono } from "../src/hono.ts"
import type { PostbackHandlerOptions } from "../src/index.ts"
import { DELIVERY_CASES, FIXTURE_SECRET } from "./fixtures/deliveries.ts"
import { describeDeliveryTable, type Serve, sendHttp, sendingOf } from "./support/table.ts"

const start = async (app: Hono) => {
  // A GET of 16 KB or more (query plus headers) needs more than Node's
  // default 16 KB of request headers: the table sends one past 32 KB.
  const { promise, resolve } = (() => {
    let resolve = (_port: number): void => undefined
    const promise = new Promise<number>((r) => {
      resolve = r
    })
    return { promise, resolve }
  })()
  const server = serveNode(
    {
      fetch: app.fetch,
      port: 0,
      hostname: "127.0.0.1",
      serverOptions: { maxHeaderSize: 65_536 }
    },
    (info) => resolve(info.port)
  )
  const port = await promise
  return {
    send: sendHttp(`http://127.0.0.1:${port}`),
    close: () =>
      new Promise<void>((resolve, reject) => {
        if ("closeAllConnections" in server) server.closeAllConnections()
        server.close((error) => (error === undefined ? resolve() : reject(error)))
      })
  }
}

const serve: Serve = async (options) => {
  const app = new Hono()
  app.all("/postbacks", postbackHono(options))
  return start(app)
}

describeDeliveryTable("through Hono over HTTP (@hono/node-server)", serve)

const docsCase = DELIVERY_CASES.find((c) => c.name === "the docs' POST JSON body")!

describe("postbackHono", () => {
  it("rejects, as a programming error, a request whose body a middleware read", async () => {
    const options: PostbackHandlerOptions = { secret: FIXTURE_SECRET, onPostback: () => undefined }
    const app = new Hono()
    const errors: Array<unknown> = []
    app.use("/postbacks", async (c, next) => {
      await c.req.raw.clone().text() // harmless: a clone
      await next()
    })
    app.use("/read/postbacks", async (c, next) => {
      await c.req.raw.text()
      await next()
    })
    app.all("/postbacks", postbackHono(options))
    app.all("/read/postbacks", postbackHono(options))
    app.onError((error, c) => {
      errors.push(error)
      return c.text("programming error", 500)
    })
    const endpoint = await start(app)
    try {
      const sending = await sendingOf(docsCase)
      expect((await endpoint.send(sending)).status).toBe(200)
      const read = await endpoint.send({ ...sending, target: `/read${sending.target}` })
      expect(read.status).toBe(500)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toBeInstanceOf(TypeError)
      expect((errors[0] as Error).message).toContain("the request body was already read")
    } finally {
      await endpoint.close()
    }
  })
})
