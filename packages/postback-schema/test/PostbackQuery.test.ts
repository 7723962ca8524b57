import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as fc from "fast-check"
import {
  Decimal,
  encodePostbackQuery,
  isWireField,
  makePostbackQuery,
  type Postback,
  PostbackQuery,
  PostbackQueryStandardSchema,
  type PostbackResult,
  parsePostbackJson,
  parsePostbackQuery
} from "../src/index.ts"
import { docsGetUrl, postbackArb } from "./arbitraries.ts"

const errorsOf = (result: PostbackResult) => (result.ok ? [] : result.errors)

const docsQuery = new URL(docsGetUrl).searchParams

describe("PostbackQuery", () => {
  it("decodes the GET URL of MomentScience's documentation", () => {
    const result = parsePostbackQuery(docsQuery)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.postback.offerId).toBe("1511")
    expect(result.postback.advertiserName).toBe("MomentScience")
    expect(result.postback.payout.toString()).toBe("2.10")
    expect(result.postback.timestamp.toISOString()).toBe("2023-09-20T15:27:40.802Z")
    expect(result.postback.isLoyaltyBoost).toBe(false)
    expect(result.postback.payload).toEqual({ user_id: "3410444" })
  })

  it("reads a query string, with or without its ?, and a record", () => {
    const text = docsQuery.toString()
    const record = Object.fromEntries(docsQuery)
    for (const query of [text, `?${text}`, record]) {
      const result = parsePostbackQuery(query)
      expect(result.ok && result.postback.payload).toEqual({ user_id: "3410444" })
    }
  })

  it.effect("is an Effect Schema that decodes and encodes", () =>
    Effect.gen(function* () {
      const postback = yield* Schema.decodeUnknownEffect(PostbackQuery)(docsQuery)
      const query = yield* Schema.encodeEffect(PostbackQuery)(postback)
      expect(query).toBeInstanceOf(URLSearchParams)
      expect(query.toString()).toBe(
        "offer_id=1511&advertiser_name=MomentScience&payout=2.10&timestamp=2023-09-20T15%3A27%3A40.802Z&is_loyaltyboost=0&user_id=3410444"
      )
    })
  )

  it("names a repeated parameter, a field's or a payload entry's", () => {
    const result = parsePostbackQuery(`${docsQuery}&payout=3.00&user_id=1&user_id=2`)
    expect(errorsOf(result)).toEqual([
      { path: "payout", message: 'the query parameter "payout" appears 2 times; send it once' },
      {
        path: "payload.user_id",
        message: 'the query parameter "user_id" appears 3 times; send it once'
      }
    ])
  })

  it("names a repeated parameter given as an array in a record", () => {
    const record = { ...Object.fromEntries(docsQuery), offer_id: ["1511", "1512"] }
    expect(errorsOf(parsePostbackQuery(record))).toEqual([
      { path: "offer_id", message: 'the query parameter "offer_id" appears 2 times; send it once' }
    ])
    const single = { ...Object.fromEntries(docsQuery), offer_id: ["1511"] }
    expect(parsePostbackQuery(single).ok).toBe(true)
  })

  it("drops excluded parameters, even repeated ones", () => {
    const query = `${docsQuery}&secret=s3cr3t&secret=again`
    const result = parsePostbackQuery(query, { exclude: ["secret"] })
    expect(result.ok && result.postback.payload).toEqual({ user_id: "3410444" })
    const unexcluded = parsePostbackQuery(query)
    expect(errorsOf(unexcluded).map((e) => e.path)).toEqual(["payload.secret"])
  })

  it("reports the problems of every field at once", () => {
    const result = parsePostbackQuery(
      "offer_id=&payout=1e3&timestamp=2023-09-20T15:27:40&is_loyaltyboost=true&user+id=1"
    )
    expect(errorsOf(result)).toEqual([
      { path: "offer_id", message: "must not be empty" },
      {
        path: "payout",
        message:
          'exponent notation is not accepted, expected a decimal string like "2.10", got "1e3"'
      },
      {
        path: "timestamp",
        message: 'has no time zone; add Z or an offset like +02:00, got "2023-09-20T15:27:40"'
      },
      { path: "is_loyaltyboost", message: 'expected "1" or "0", got "true"' },
      { path: 'payload["user id"]', message: "the key does not match /^[A-Za-z0-9_.-]{1,128}$/" }
    ])
  })

  it("limits the payload of a query as it limits a JSON payload", () => {
    const extra = Array.from({ length: 51 }, (_, i) => `k${i}=v`).join("&")
    expect(errorsOf(parsePostbackQuery(`${docsQuery}&${extra}`))).toEqual([
      { path: "payload", message: "must have at most 50 keys, got 52" }
    ])
    expect(errorsOf(parsePostbackQuery(`${docsQuery}&big=${"x".repeat(1025)}`))).toEqual([
      { path: "payload.big", message: "must be at most 1024 characters, got 1025" }
    ])
  })

  it("refuses inputs that are not queries", () => {
    for (const input of [null, 12, ["a=1"]]) {
      expect(errorsOf(parsePostbackQuery(input as never))[0]?.path).toBe("")
    }
    expect(
      errorsOf(parsePostbackQuery({ ...Object.fromEntries(docsQuery), user_id: 7 } as never))
    ).toEqual([
      {
        path: "payload.user_id",
        message: "expected a query parameter value (a string or a list of strings), got 7"
      }
    ])
  })

  it("refuses to encode a payload key that a query cannot carry", () => {
    const postback: Postback = {
      offerId: "1511",
      advertiserName: "MomentScience",
      payout: Decimal.parse("2.10"),
      timestamp: new Date("2023-09-20T15:27:40.802Z"),
      isLoyaltyBoost: false,
      payload: { payout: "9.99", secret: "x" }
    }
    expect(() => encodePostbackQuery(postback)).toThrow(
      "cannot encode the postback: payload.payout: cannot be sent as a GET query parameter: it is the name of a postback field"
    )
    const withSecretExcluded = Schema.encodeResult(makePostbackQuery({ exclude: ["secret"] }))
    const refused = withSecretExcluded({ ...postback, payload: { secret: "x" } })
    expect(Result.isFailure(refused)).toBe(true)
    expect(String(Result.isFailure(refused) && refused.failure.message)).toMatch(/exclude option/)
  })

  it("carries any text through URL encoding", () => {
    const postback: Postback = {
      offerId: "a&b=c",
      advertiserName: "Shop & Save + Co. 100% ✓",
      payout: Decimal.parse("0.50"),
      timestamp: new Date("2023-09-20T15:27:40.802Z"),
      isLoyaltyBoost: true,
      payload: { "sub.id": "x?y#z", q: "a b+c%20" }
    }
    const result = parsePostbackQuery(encodePostbackQuery(postback).toString())
    expect(result.ok && result.postback).toEqual(postback)
  })

  describe("properties", () => {
    it("encoding then decoding gives the same postback", () => {
      fc.assert(
        fc.property(postbackArb, (postback) => {
          const text = encodePostbackQuery(postback).toString()
          const result = parsePostbackQuery(text)
          expect(result.ok).toBe(true)
          if (!result.ok) return
          expect(result.postback.payout.toString()).toBe(postback.payout.toString())
          expect(result.postback.timestamp.getTime()).toBe(postback.timestamp.getTime())
          expect(result.postback.payload).toEqual(postback.payload)
          expect([result.postback.offerId, result.postback.advertiserName]).toEqual([
            postback.offerId,
            postback.advertiserName
          ])
          expect(result.postback.isLoyaltyBoost).toBe(postback.isLoyaltyBoost)
        }),
        { numRuns: 300 }
      )
    })

    it("a query and the JSON body of one postback decode alike", () => {
      fc.assert(
        fc.property(postbackArb, (postback) => {
          const fromQuery = parsePostbackQuery(encodePostbackQuery(postback))
          const fromJson = parsePostbackJson(
            Object.fromEntries([
              ...Array.from(encodePostbackQuery(postback)).filter(([name]) => isWireField(name)),
              ["payload", postback.payload]
            ])
          )
          expect(fromQuery).toEqual(fromJson)
        }),
        { numRuns: 100 }
      )
    })

    const queryJunk = fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc
        .array(
          fc.tuple(
            fc.constantFrom(
              "offer_id",
              "advertiser_name",
              "payout",
              "timestamp",
              "is_loyaltyboost",
              "user_id"
            ),
            fc.string({ unit: "binary", maxLength: 30 })
          ),
          { maxLength: 10 }
        )
        .map((pairs) => new URLSearchParams(pairs).toString())
    )

    it("junk queries never throw: a postback or a list of problems", () => {
      fc.assert(
        fc.property(queryJunk, (query) => {
          const result = parsePostbackQuery(query, { exclude: ["secret"] })
          if (!result.ok) expect(result.errors.length).toBeGreaterThan(0)
        }),
        { numRuns: 1000 }
      )
    })
  })

  it("is a Standard Schema for query records", async () => {
    const result = await PostbackQueryStandardSchema["~standard"].validate({
      ...Object.fromEntries(docsQuery),
      user_id: ["1", "2"]
    })
    expect(result.issues).toEqual([
      {
        path: ["payload", "user_id"],
        message: 'the query parameter "user_id" appears 2 times; send it once'
      }
    ])
  })
})
