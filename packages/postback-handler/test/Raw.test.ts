import { describe, expect, it } from "@effect/vitest"
import { makePostbackIngest } from "../src/index.ts"
import { FIXTURE_SECRET } from "./fixtures/deliveries.ts"

const ingest = makePostbackIngest({ secret: FIXTURE_SECRET })
const receivedAt = new Date("2024-03-01T00:00:00Z")
const post = (body: string, contentType?: string) =>
  ingest.classify({
    method: "POST",
    url: `/postbacks?secret=${FIXTURE_SECRET}&note=q`,
    contentType,
    body: new TextEncoder().encode(body),
    receivedAt
  })
const rawOf = (outcome: ReturnType<typeof post>) => {
  if (outcome._tag !== "Accepted" && outcome._tag !== "Rejected") throw new Error(outcome._tag)
  return outcome.raw
}

describe("the raw request kept with a postback", () => {
  it("never holds the secret: not in the query, a form body or a JSON body", () => {
    const form = rawOf(post(`offer_id=1&payout=abc&secret=${FIXTURE_SECRET}&x=1`))
    expect(form.query).toEqual({ note: "q" })
    expect(form.body).toBe("offer_id=1&payout=abc&x=1")
    const json = rawOf(
      post(`{"offer_id":"1","payout":"abc","secret":"${FIXTURE_SECRET}","n":12345678901234567890}`)
    )
    expect(json.body).toBe('{"offer_id":"1","payout":"abc","n":12345678901234567890}')
    for (const raw of [form, json]) expect(JSON.stringify(raw)).not.toContain(FIXTURE_SECRET)
  })

  it("keeps a body that is not text as base64, and query values that are not text as their bytes", () => {
    const bytes = Uint8Array.from([0x7b, 0xff, 0xfe, 0x00])
    const outcome = ingest.classify({
      method: "POST",
      url: `/postbacks?secret=${FIXTURE_SECRET}&user_id=Z%F6e`,
      body: bytes,
      receivedAt
    })
    const raw = rawOf(outcome)
    expect(raw).toMatchObject({ body: "e//+AA==", bodyEncoding: "base64" })
    expect(raw.query).toEqual({ user_id: "Z%F6e" })
  })
})
