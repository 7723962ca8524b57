import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  canonicalPostbackKey,
  encodePostbackJson,
  encodePostbackQuery,
  type Postback,
  type PostbackResult,
  parsePostbackJson,
  parsePostbackQuery
} from "../src/index.ts"
import { docsPostback, postbackArb } from "./arbitraries.ts"

const postbackOf = (result: PostbackResult): Postback => {
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.postback
}

describe("canonicalPostbackKey", () => {
  it("is the canonical body with sorted payload entries and a normalized payout", () => {
    expect(canonicalPostbackKey(postbackOf(parsePostbackJson(docsPostback)))).toBe(
      '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.1","timestamp":"2023-09-20T15:27:40.802Z","is_loyaltyboost":"0","payload":[["session_id","abc123"],["user_id","3410444"]]}'
    )
  })

  it("is the same for one postback sent as GET, POST, form or reordered JSON", () => {
    const deliveries = [
      parsePostbackJson(docsPostback),
      parsePostbackJson({
        payload: { user_id: 3410444, session_id: "abc123" },
        is_loyaltyboost: 0,
        timestamp: "2023-09-20T17:27:40.802+02:00",
        payout: 2.1,
        advertiser_name: "MomentScience",
        offer_id: 1511
      }),
      parsePostbackQuery(
        "session_id=abc123&payout=2.10&user_id=3410444&timestamp=2023-09-20T15%3A27%3A40.802Z&offer_id=1511&advertiser_name=MomentScience&is_loyaltyboost=0"
      )
    ]
    const keys = new Set(deliveries.map((result) => canonicalPostbackKey(postbackOf(result))))
    expect(keys.size).toBe(1)
  })

  it("tells apart postbacks that differ in any field", () => {
    const base = postbackOf(parsePostbackJson(docsPostback))
    const variants: ReadonlyArray<Postback> = [
      { ...base, offerId: "1512" },
      { ...base, advertiserName: "Other" },
      { ...base, payout: base.payout.add(base.payout) },
      { ...base, timestamp: new Date(base.timestamp.getTime() + 1) },
      { ...base, isLoyaltyBoost: true },
      { ...base, payload: { ...base.payload, user_id: "3410445" } },
      { ...base, payload: { ...base.payload, extra: "" } },
      // Integer-like keys, which a JSON object would reorder.
      { ...base, payload: { "10": "a", "9": "b" } },
      { ...base, payload: { "10": "b", "9": "a" } }
    ]
    const keys = new Set([base, ...variants].map((postback) => canonicalPostbackKey(postback)))
    expect(keys.size).toBe(variants.length + 1)
  })

  it("does not depend on the wire form or the payload's order", () => {
    fc.assert(
      fc.property(postbackArb, fc.integer(), (postback, seed) => {
        const entries = Object.entries(postback.payload)
        const shuffled = fc.sample(fc.shuffledSubarray(entries, { minLength: entries.length }), {
          seed,
          numRuns: 1
        })[0]!
        const viaJson = postbackOf(
          parsePostbackJson(JSON.parse(JSON.stringify(encodePostbackJson(postback))))
        )
        const viaQuery = postbackOf(parsePostbackQuery(encodePostbackQuery(postback).toString()))
        const reordered = { ...postback, payload: Object.fromEntries(shuffled) }
        const key = canonicalPostbackKey(postback)
        expect(canonicalPostbackKey(viaJson)).toBe(key)
        expect(canonicalPostbackKey(viaQuery)).toBe(key)
        expect(canonicalPostbackKey(reordered)).toBe(key)
      }),
      { numRuns: 200 }
    )
  })
  it("is JSON.stringify of the canonical body, character for character", () => {
    // The key is written out by hand for speed; stored dedup keys are
    // digests of it, so it must stay exactly the JSON text it always was.
    const asObject = (postback: Postback, unknown: ReadonlyArray<string>) =>
      JSON.stringify({
        offer_id: postback.offerId,
        advertiser_name: postback.advertiserName,
        payout: postback.payout.normalize().toString(),
        timestamp: unknown.includes("timestamp") ? null : postback.timestamp.toISOString(),
        is_loyaltyboost: unknown.includes("is_loyaltyboost")
          ? null
          : postback.isLoyaltyBoost
            ? "1"
            : "0",
        payload: Object.keys(postback.payload)
          .sort()
          .map((key) => [key, postback.payload[key]])
      })
    // Every character JSON escapes, and others, often enough to meet them.
    const oddText = fc.string({
      unit: fc.oneof(
        fc.constantFrom(
          '"',
          "\\",
          "\u0000",
          "\n",
          "\u001f",
          "\u007f",
          "\ud800",
          "\udfff",
          "\u2028",
          "é",
          "😀"
        ),
        fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
      ),
      maxLength: 12
    })
    const odd = fc.record({
      offerId: oddText.filter((s) => s.length > 0),
      advertiserName: oddText,
      payload: fc.dictionary(oddText, oddText, { maxKeys: 6 })
    })
    fc.assert(
      fc.property(
        postbackArb,
        odd,
        fc.subarray(["timestamp", "is_loyaltyboost"] as const),
        (postback, text, unknown) => {
          for (const p of [postback, { ...postback, ...text }]) {
            expect(canonicalPostbackKey(p, { unknown })).toBe(asObject(p, unknown))
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe("canonicalPostbackKey with unknown fields", () => {
  it("prints a stand-in as null, so retries with another stand-in share the key", () => {
    const postback = postbackOf(
      parsePostbackJson({
        offer_id: "1",
        payout: "1",
        timestamp: "2024-01-01T00:00:00Z",
        is_loyaltyboost: "1"
      })
    )
    const later = { ...postback, timestamp: new Date("2024-06-01T00:00:00Z") }
    const unknown = { unknown: ["timestamp"] as const }
    expect(canonicalPostbackKey(postback, unknown)).toBe(canonicalPostbackKey(later, unknown))
    expect(canonicalPostbackKey(postback, unknown)).toContain('"timestamp":null')
    expect(canonicalPostbackKey(postback)).not.toBe(canonicalPostbackKey(later))
    expect(canonicalPostbackKey(postback, { unknown: ["is_loyaltyboost"] })).toContain(
      '"is_loyaltyboost":null'
    )
  })
})
