import {
  createPostbackHandler,
  type PostbackEvent,
  type RejectedEvent
} from "@org/postback-handler"
import {
  caseBody,
  caseContentEncoding,
  caseQuery,
  DELIVERY_CASES,
  type DeliveryCase,
  FIXTURE_SECRET
} from "../packages/postback-handler/test/fixtures/deliveries.ts"
import { assert, assertEquals } from "./assert.ts"

const named = (name: string): DeliveryCase => {
  const found = DELIVERY_CASES.find((c) => c.name === name)
  if (found === undefined) throw new Error(`no delivery case ${name}`)
  return found
}

/** Sends a case of the delivery table to `origin` with fetch. */
const send = async (origin: string, c: DeliveryCase): Promise<Response> => {
  const headers = new Headers()
  if (c.contentType !== undefined) headers.set("content-type", c.contentType)
  const encoding = caseContentEncoding(c)
  if (encoding !== undefined) headers.set("content-encoding", encoding)
  const body = await caseBody(c)
  return fetch(`${origin}/postbacks?${caseQuery(c)}`, {
    method: c.method,
    headers,
    ...(body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> })
  })
}

Deno.test("postback-handler: Deno.serve with createPostbackHandler answers the delivery table", async () => {
  const events: Array<PostbackEvent> = []
  const rejected: Array<RejectedEvent> = []
  const handler = createPostbackHandler({
    secret: FIXTURE_SECRET,
    onPostback: (event) => {
      events.push(event)
    },
    onRejected: (event) => {
      rejected.push(event)
    }
  })
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler)
  const origin = `http://127.0.0.1:${server.addr.port}`
  try {
    const cases = [
      "the docs' POST JSON body",
      "the docs' GET",
      "gzip JSON",
      "a form body",
      "a negative payout",
      "no secret",
      "HEAD with the secret (a URL checker)",
      "OPTIONS",
      "a body past 64 KB"
    ].map(named)
    for (const c of cases) {
      const response = await send(origin, c)
      const text = await response.text()
      assertEquals(response.status, c.expect.status, `${c.name}: status`)
      if (c.method === "HEAD") assertEquals(text, "", `${c.name}: body`)
      if (c.method === "OPTIONS") assertEquals(response.headers.get("allow"), "GET, HEAD, POST")
      if (c.expect.status === 400) {
        const paths = (JSON.parse(text) as { issues: Array<{ path: string }> }).issues.map(
          (i) => i.path
        )
        for (const path of c.expect.paths ?? []) assert(paths.includes(path), `${c.name}: ${path}`)
      }
    }
    // The docs' postback, as JSON, GET, gzip and form: one conversion, one identity.
    assertEquals(
      events.map((e) => [e.source, e.status, e.postback.offerId, e.postback.payout.toString()]),
      [
        ["post-json", "accepted", "1511", "2.10"],
        ["get", "accepted", "1511", "2.10"],
        ["post-json", "accepted", "1511", "2.10"],
        ["post-form", "accepted", "1511", "2.10"]
      ]
    )
    assertEquals(new Set(events.map((e) => e.identity)).size, 1)
    assertEquals(
      rejected.map((r) => r.issues.map((i) => i.path)),
      [["payout"]]
    )
  } finally {
    await server.shutdown()
  }
})

Deno.test("postback-handler: 503 with Retry-After when onPostback fails", async () => {
  const handler = createPostbackHandler({
    secret: FIXTURE_SECRET,
    onPostback: () => Promise.reject(new Error("database down"))
  })
  const error = console.error
  console.error = () => {}
  try {
    const c = named("the docs' POST JSON body")
    const body = await caseBody(c)
    const response = await handler(
      new Request(`http://127.0.0.1/postbacks?${caseQuery(c)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body as Uint8Array<ArrayBuffer>
      })
    )
    assertEquals([response.status, response.headers.get("retry-after")], [503, "60"])
    await response.body?.cancel()
  } finally {
    console.error = error
  }
})

Deno.test("postback-handler: examples/deno-serve.ts serves the docs' postback", async () => {
  Deno.env.set("POSTBACK_SECRET", FIXTURE_SECRET)
  Deno.env.set("PORT", "0")
  const log = console.log
  const logged: Array<Array<unknown>> = []
  console.log = (...args: Array<unknown>) => {
    logged.push(args)
  }
  try {
    const { server } = await import("../packages/postback-handler/examples/deno-serve.ts")
    try {
      const origin = `http://127.0.0.1:${server.addr.port}`
      const ok = await send(origin, named("the docs' POST JSON body"))
      const { identity } = (await ok.json()) as { identity: string }
      assertEquals(ok.status, 200)
      const refused = await send(origin, named("a wrong secret"))
      await refused.body?.cancel()
      assertEquals(refused.status, 401)
      const elsewhere = await fetch(`${origin}/other`)
      await elsewhere.body?.cancel()
      assertEquals(elsewhere.status, 404)
      assertEquals(
        logged.filter((args) => args[0] === "accepted"),
        [["accepted", identity, "1511", "2.10"]]
      )
    } finally {
      await server.shutdown()
    }
  } finally {
    console.log = log
  }
})
