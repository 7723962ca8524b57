import { describe, expect, it } from "@effect/vitest"
import { decodeContentEncoding } from "@org/postback-schema/plain"
import { type AdmittedRequest, answerOf, makePostbackIngest } from "../src/index.ts"
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

describe("admitRequest and delivery.admitted", () => {
  it.each(DELIVERY_CASES.map((c) => [c.name, c] as const))(
    "classify with the admission gives what it gives without: %s",
    async (_, c) => {
      const ingest = makePostbackIngest({ secret: FIXTURE_SECRET, ...c.options })
      const url = `/postbacks?${caseQuery(c)}`
      const admitted = ingest.admitRequest({ method: c.method, url })
      const refused = ingest.admit({ method: c.method, url })
      if (admitted._tag !== "Admitted") {
        expect(admitted).toEqual(refused)
        return
      }
      expect(refused).toBeUndefined()
      const encoded = await caseBody(c)
      const delivery = {
        method: c.method,
        url,
        contentType: c.contentType,
        contentEncoding: caseContentEncoding(c),
        body: encoded,
        receivedAt: RECEIVED_AT
      }
      const plain = await ingest.classifyEncoded(delivery)
      const withAdmission = await ingest.classifyEncoded({ ...delivery, admitted })
      expect({ ...withAdmission, raw: undefined }).toEqual({ ...plain, raw: undefined })
      if ("raw" in plain && "raw" in withAdmission) expect(withAdmission.raw).toEqual(plain.raw)
    }
  )

  const body = new TextEncoder().encode(
    JSON.stringify({ offer_id: "1", payout: "1.00", timestamp: "2024-03-01T05:00:00Z" })
  )
  const post = (url: string, admitted?: AdmittedRequest) => ({
    method: "POST",
    url,
    contentType: "application/json",
    body,
    receivedAt: RECEIVED_AT,
    admitted
  })

  it("an admission stands for its own method and URL only: any other is checked again", () => {
    const ingest = makePostbackIngest({ secret: FIXTURE_SECRET })
    const admitted = ingest.admitRequest({
      method: "POST",
      url: `/postbacks?secret=${FIXTURE_SECRET}`
    })
    expect(admitted._tag).toBe("Admitted")
    if (admitted._tag !== "Admitted") return
    expect(ingest.classify(post(`/postbacks?secret=${FIXTURE_SECRET}`, admitted))._tag).toBe(
      "Accepted"
    )
    expect(ingest.classify(post("/postbacks?secret=wrong-0123456789abcdef", admitted))._tag).toBe(
      "Unauthorized"
    )
    expect(ingest.classify(post("/postbacks", admitted))._tag).toBe("Unauthorized")
    expect(
      ingest.classify({ ...post(`/postbacks?secret=${FIXTURE_SECRET}`, admitted), method: "PUT" })
        ._tag
    ).toBe("MethodNotAllowed")
  })

  it("an admission from another core (another secret) is not taken", () => {
    const other = makePostbackIngest({ secret: "another-secret-0123456789" })
    const ingest = makePostbackIngest({ secret: FIXTURE_SECRET })
    const url = "/postbacks?secret=another-secret-0123456789"
    const admitted = other.admitRequest({ method: "POST", url })
    expect(admitted._tag).toBe("Admitted")
    if (admitted._tag !== "Admitted") return
    expect(other.classify(post(url, admitted))._tag).toBe("Accepted")
    expect(ingest.classify(post(url, admitted))._tag).toBe("Unauthorized")
    // A look-alike made by hand is no admission either.
    expect(ingest.classify(post(url, { _tag: "Admitted" }))._tag).toBe("Unauthorized")
  })
})
