import { createServer } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import express, { type ErrorRequestHandler } from "express"
import { postbackExpress } from "../src/express.ts"
import type { PostbackEvent, PostbackHandlerOptions } from "../src/index.ts"
import { DELIVERY_CASES, FIXTURE_SECRET } from "./fixtures/deliveries.ts"
import {
  deferred,
  describeDeliveryTable,
  listen,
  type Serve,
  sendHttp,
  sendingOf
} from "./support/table.ts"

// A GET of 16 KB or more (query plus headers) needs more than Node's default
// 16 KB of request headers: the table sends one past 32 KB, for the kit's 414.
const serveApp = async (app: express.Express) => {
  const server = await listen(createServer({ maxHeaderSize: 65_536 }, app))
  return { send: sendHttp(server.origin), close: server.close }
}

const serve: Serve = async (options) => {
  const app = express()
  app.all("/postbacks", postbackExpress(options))
  return serveApp(app)
}

describeDeliveryTable("through Express over HTTP", serve)

const docsCase = DELIVERY_CASES.find((c) => c.name === "the docs' POST JSON body")!
const gzipCase = DELIVERY_CASES.find((c) => c.name === "gzip JSON")!

const recording = (): { options: PostbackHandlerOptions; events: Array<PostbackEvent> } => {
  const events: Array<PostbackEvent> = []
  return {
    events,
    options: {
      secret: FIXTURE_SECRET,
      onPostback: (event) => {
        events.push(event)
      }
    }
  }
}

describe("postbackExpress", () => {
  it("passes a body another parser read to next, with the programming error", async () => {
    const { options } = recording()
    const app = express()
    app.use(express.json())
    app.all("/postbacks", postbackExpress(options))
    const errors: Array<unknown> = []
    const onError: ErrorRequestHandler = (error, _request, response, _next) => {
      errors.push(error)
      response.status(500).send("programming error")
    }
    app.use(onError)
    const endpoint = await serveApp(app)
    try {
      const sent = await endpoint.send(await sendingOf(docsCase))
      expect(sent.status).toBe(500)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toBeInstanceOf(TypeError)
      expect((errors[0] as Error).message).toBe(
        "the request body was already read; mount the postback handler before any body parser"
      )
      // A GET has no body to lose: express.json() before it changes nothing.
      const get = await endpoint.send({
        method: "GET",
        target: `/postbacks?secret=${FIXTURE_SECRET}&offer_id=1511&payout=2.10`,
        headers: {}
      })
      expect(get.status).toBe(200)
    } finally {
      await endpoint.close()
    }
  })

  it("uses the bytes express.raw() read, its Content-Encoding already undone", async () => {
    const { options, events } = recording()
    const app = express()
    app.use(express.raw({ type: "*/*" }))
    app.all("/postbacks", postbackExpress(options))
    const endpoint = await serveApp(app)
    try {
      for (const c of [docsCase, gzipCase]) {
        const sent = await endpoint.send(await sendingOf(c))
        expect(sent.status, c.name).toBe(200)
      }
      expect(events.map((e) => e.postback.offerId)).toEqual(["1511", "1511"])
      expect(events[0]!.identity).toBe(events[1]!.identity)
    } finally {
      await endpoint.close()
    }
  })

  it("reads the secret from the original URL under a mount path", async () => {
    const { options, events } = recording()
    const app = express()
    const router = express.Router()
    router.all("/postbacks", postbackExpress(options))
    app.use("/hooks", router)
    const endpoint = await serveApp(app)
    try {
      const sending = await sendingOf(docsCase)
      const sent = await endpoint.send({ ...sending, target: `/hooks${sending.target}` })
      expect(sent.status).toBe(200)
      expect(events[0]!.raw.path).toBe("/hooks/postbacks")
      expect(new URL(events[0]!.request.url).pathname).toBe("/hooks/postbacks")
    } finally {
      await endpoint.close()
    }
  })

  it("gives the callbacks a Request even for a Host header that is not a host", async () => {
    const { options, events } = recording()
    const app = express()
    app.all("/postbacks", postbackExpress(options))
    const endpoint = await serveApp(app)
    try {
      const sending = await sendingOf(docsCase)
      const sent = await endpoint.send({
        ...sending,
        headers: { ...sending.headers, host: "not a host" }
      })
      expect(sent.status).toBe(200)
      expect(events[0]!.request.url).toBe(`http://localhost${sending.target}`)
      expect(events[0]!.request.headers.get("host")).toBe("not a host")
    } finally {
      await endpoint.close()
    }
  })

  it("answers 200 only once onPostback resolved, over HTTP", async () => {
    const stored = deferred()
    let storing = false
    const app = express()
    app.all(
      "/postbacks",
      postbackExpress({
        secret: FIXTURE_SECRET,
        onPostback: () => {
          storing = true
          return stored.promise
        }
      })
    )
    const endpoint = await serveApp(app)
    try {
      let answered = false
      const sent = endpoint.send(await sendingOf(docsCase)).then((s) => {
        answered = true
        return s
      })
      await expect.poll(() => storing).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(answered).toBe(false)
      stored.release()
      expect((await sent).status).toBe(200)
    } finally {
      await endpoint.close()
    }
  })

  it("leaves a request line past Node's own header limit (16 KB by default) to Node: 431, not the kit's 414", async () => {
    const big = DELIVERY_CASES.find((c) => c.name === "a GET query past 32 KB")!
    const app = express()
    app.all("/postbacks", postbackExpress(recording().options))
    const server = await listen(createServer(app))
    try {
      expect((await sendHttp(server.origin)(await sendingOf(big))).status).toBe(431)
    } finally {
      await server.close()
    }
  })
})
