// The delivery table of @org/postback-handler, over real HTTP to the whole
// receiver: the same statuses as the ingest core and the handler kit, and
// each accepted delivery stored as the table says (status, source, flags,
// holds, fields); each refused one kept as a rejected row.
import { request } from "node:http"
import { layer } from "@effect/vitest"
import { Effect } from "effect"
import { expectOutcome } from "../../../packages/postback-handler/test/fixtures/check.ts"
import {
  caseBody,
  caseContentEncoding,
  caseQuery,
  DELIVERY_CASES,
  type DeliveryCase,
  FIXTURE_SECRET
} from "../../../packages/postback-handler/test/fixtures/deliveries.ts"
import { testDatabases } from "./support/databases.ts"
import { TestReceiver, testReceiver } from "./support/receiver.ts"

/** Sends exact bytes (node:http: fetch would re-encode the query). */
const send = (baseUrl: string, c: DeliveryCase, body: Uint8Array | undefined) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const url = new URL(baseUrl)
    const headers: Record<string, string> = {}
    if (c.contentType !== undefined) headers["content-type"] = c.contentType
    const encoding = caseContentEncoding(c)
    if (encoding !== undefined) headers["content-encoding"] = encoding
    if (body !== undefined) headers["content-length"] = String(body.length)
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method,
        path: `/postbacks?${caseQuery(c)}`,
        headers
      },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8")
          })
        )
      }
    )
    req.on("error", reject)
    req.end(body)
  })

interface Row {
  status: string
  source: string
  offer_id: string
  payout: string
  occurred_at: Date | string
  is_loyalty_boost: boolean
  payload: Record<string, string> | string
  flags: ReadonlyArray<{ code: string }> | string | null
  errors: ReadonlyArray<{ path: string }> | string | null
}
const json = <A>(value: A | string): A =>
  typeof value === "string" ? (JSON.parse(value) as A) : value

const groups = new Map<string, Array<DeliveryCase>>()
for (const c of DELIVERY_CASES) {
  const key = JSON.stringify(c.options ?? {})
  groups.set(key, [...(groups.get(key) ?? []), c])
}

for (const [key, cases] of groups) {
  const options = JSON.parse(key) as DeliveryCase["options"] & {}
  const env: Record<string, string> = { POSTBACK_SECRET: FIXTURE_SECRET, WORKER_ENABLED: "false" }
  if (options.template !== undefined) env.POSTBACK_TEMPLATE = options.template
  if (options.defaultLoyaltyBoost !== undefined) {
    env.POSTBACK_DEFAULT_LOYALTYBOOST = String(options.defaultLoyaltyBoost)
  }
  layer(testReceiver(testDatabases[0]!, env), { timeout: 60_000, excludeTestServices: true })(
    `the delivery table over HTTP to the receiver (${key})`,
    (it) => {
      it.effect.each(cases.map((c) => [c.name, c] as const))("%s", ([, c]) =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // Each case is the first delivery of its postback (several cases carry the same one).
          yield* Effect.promise(() => receiver.sql.query("DELETE FROM postbacks"))
          const body = yield* Effect.promise(() => caseBody(c))
          const answer = yield* Effect.promise(() => send(receiver.baseUrl, c, body))
          if (answer.status === 200 && answer.text !== "") {
            const reply = JSON.parse(answer.text) as { id: number; status: string }
            const [row] = yield* Effect.promise(() =>
              receiver.sql.query<Row>(
                "SELECT status, source, offer_id, payout::text AS payout, occurred_at, is_loyalty_boost, payload, flags, errors FROM postbacks WHERE id = $1",
                [reply.id]
              )
            )
            if (row === undefined) throw new Error(`no row ${reply.id}`)
            expectOutcome(c, {
              status: answer.status,
              held: row.status === "held",
              source: row.source,
              flags: (json(row.flags) ?? []).map((f) => f.code),
              paths: (json(row.errors) ?? []).map((e) => e.path),
              postback: {
                offerId: row.offer_id,
                payout: row.payout,
                timestamp: new Date(row.occurred_at).toISOString(),
                isLoyaltyBoost: row.is_loyalty_boost,
                payload: json(row.payload)
              }
            })
            expectOutcome(c, { status: 200, held: reply.status === "held" })
          } else if (answer.status === 400) {
            const refusal = JSON.parse(answer.text) as {
              message: string
              issues: ReadonlyArray<{ path: string; message: string }>
            }
            expectOutcome(c, {
              status: 400,
              paths: refusal.issues.map((i) => i.path),
              message: refusal.message
            })
          } else {
            expectOutcome(c, { status: answer.status })
          }
        })
      )
    }
  )
}
