// examples/postgres.ts against a real PostgreSQL, in a schema of its own:
// every delivery of one conversion, one after another and at once, in both
// forms, is answered 200 and stored once.
import type { Server } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { serve } from "@hono/node-server"
import postgres from "postgres"
import { DELIVERY_CASES, FIXTURE_SECRET } from "./fixtures/deliveries.ts"
import { sendHttp, sendingOf } from "./support/table.ts"

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `postback_handler_example_${Date.now()}_${Math.floor(Math.random() * 1e6)}`

const docsPost = DELIVERY_CASES.find((c) => c.name === "the docs' POST JSON body")!
const docsGet = DELIVERY_CASES.find((c) => c.name === "the docs' GET")!

describe("examples/postgres.ts", () => {
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => undefined })
  let example: typeof import("../examples/postgres.ts")
  let server: Server
  let origin: string

  beforeAll(async () => {
    await admin.unsafe(`CREATE SCHEMA ${schema}`)
    process.env.DATABASE_URL = `${DATABASE_URL}?search_path=${schema}`
    process.env.POSTBACK_SECRET = FIXTURE_SECRET
    example = await import("../examples/postgres.ts")
    await example.migrate()
    await new Promise<void>((resolve) => {
      server = serve({ fetch: example.handler, port: 0, hostname: "127.0.0.1" }, (info) => {
        origin = `http://127.0.0.1:${info.port}`
        resolve()
      }) as Server
    })
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server?.closeAllConnections()
      server?.close(() => resolve())
    })
    await example?.sql.end()
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  })

  it("stores the docs' postback once, however many times and however concurrently it is delivered", async () => {
    const send = async (c: typeof docsPost) => (await sendHttp(origin)(await sendingOf(c))).status
    const sequential: Array<number> = []
    for (let i = 0; i < 5; i++) sequential.push(await send(docsPost))
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(i % 2 === 0 ? docsPost : docsGet))
    )
    expect([...sequential, ...concurrent].every((status) => status === 200)).toBe(true)

    const rows = await example.sql`SELECT * FROM postbacks`
    expect(rows).toHaveLength(1)
    const row = rows[0]!
    expect(row).toMatchObject({
      offer_id: "1511",
      advertiser_name: "MomentScience",
      payout: "2.10",
      is_loyaltyboost: true,
      payload: { user_id: "3410444" },
      status: "accepted",
      holds: [],
      flags: [],
      raw: { method: "POST", path: "/postbacks", contentType: "application/json" }
    })
    expect((row.converted_at as Date).toISOString()).toBe("2023-09-20T15:27:40.802Z")
    expect(JSON.stringify(row.raw)).not.toContain(FIXTURE_SECRET)
    // The table is the example's own, in this test's schema.
    const [where] = await example.sql`
      SELECT table_schema FROM information_schema.tables WHERE table_name = 'postbacks' AND table_schema = ${schema}`
    expect(where?.table_schema).toBe(schema)
  })
})
