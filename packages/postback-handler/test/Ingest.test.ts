import { describe, expect, it } from "@effect/vitest"
import { decodeContentEncoding } from "@org/postback-schema/plain"
import { answerOf, makePostbackIngest } from "../src/index.ts"
import { expectOutcome, type Observed } from "./fixtures/check.ts"
import {
  caseBody,
  caseContentEncoding,
  caseQuery,
  DELIVERY_CASES,
  type DeliveryCase,
  FIXTURE_SECRET
} from "./fixtures/deliveries.ts"

const RECEIVED_AT = new Date("2024-03-01T05:10:00.000Z")

/** One case through the core, as an adapter runs it: encoding undone, then classify. */
const run = async (c: DeliveryCase): Promise<Observed> => {
  const ingest = makePostbackIngest({ secret: FIXTURE_SECRET, ...c.options })
  const url = `/postbacks?${caseQuery(c)}`
  const admitted = ingest.admit({ method: c.method, url })
  if (admitted !== undefined) return { status: answerOf(admitted).status }
  const encoded = await caseBody(c)
  const decoded = await decodeContentEncoding(
    encoded ?? new Uint8Array(),
    caseContentEncoding(c),
    ingest.maxBodyBytes
  )
  if (!decoded.ok) return { status: decoded.status, message: decoded.message }
  const outcome = ingest.classify({
    method: c.method,
    url,
    contentType: c.contentType,
    body: encoded === undefined ? undefined : decoded.body,
    receivedAt: RECEIVED_AT
  })
  switch (outcome._tag) {
    case "Accepted":
      return {
        status: 200,
        held: outcome.holds.length > 0,
        source: outcome.source,
        flags: outcome.flags.map((f) => f.code),
        paths: outcome.holds.map((h) => h.path),
        postback: {
          offerId: outcome.postback.offerId,
          payout: outcome.postback.payout.toString(),
          timestamp: outcome.postback.timestamp.toISOString(),
          isLoyaltyBoost: outcome.postback.isLoyaltyBoost,
          payload: outcome.postback.payload
        }
      }
    case "Rejected":
      return {
        status: 400,
        source: outcome.source,
        paths: outcome.issues.map((i) => i.path),
        message: outcome.issues.map((i) => i.message).join("; ")
      }
    default:
      return { status: answerOf(outcome).status }
  }
}

describe("the delivery table, through the core", () => {
  it.each(DELIVERY_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    expectOutcome(c, await run(c))
  })

  it("covers every status the core answers with", () => {
    const statuses = new Set(DELIVERY_CASES.map((c) => c.expect.status))
    expect([...statuses].sort()).toEqual([200, 400, 401, 405, 413, 414, 415])
  })
})
