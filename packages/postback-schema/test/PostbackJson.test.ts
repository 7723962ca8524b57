import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as fc from "fast-check"
import {
  Decimal,
  encodePostbackJson,
  issuesFromSchemaIssue,
  makePostbackJson,
  type Postback,
  PostbackJson,
  PostbackJsonStandardSchema,
  type PostbackResult,
  parsePostbackJson
} from "../src/index.ts"
import { docsPostback, postbackArb } from "./arbitraries.ts"

const errorsOf = (result: PostbackResult) => (result.ok ? [] : result.errors)

/** The one error `body` gets, as "path: message". */
const onlyError = (body: unknown): string => {
  const errors = errorsOf(parsePostbackJson(body))
  expect(errors).toHaveLength(1)
  return `${errors[0]!.path}: ${errors[0]!.message}`
}

const withField = (field: string, value: unknown): Record<string, unknown> => ({
  ...docsPostback,
  [field]: value
})

describe("PostbackJson", () => {
  it("decodes the POST body of MomentScience's documentation", () => {
    const result = parsePostbackJson(docsPostback)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    const { postback } = result
    expect(postback.offerId).toBe("1511")
    expect(postback.advertiserName).toBe("MomentScience")
    expect(postback.payout.toString()).toBe("2.10")
    expect(postback.payout.equals(Decimal.parse("2.1"))).toBe(true)
    expect(postback.timestamp.toISOString()).toBe("2023-09-20T15:27:40.802Z")
    expect(postback.isLoyaltyBoost).toBe(false)
    expect(postback.payload).toEqual({ user_id: "3410444", session_id: "abc123" })
  })

  it.effect("is an Effect Schema that decodes and encodes", () =>
    Effect.gen(function* () {
      const postback = yield* Schema.decodeUnknownEffect(PostbackJson)(docsPostback)
      expect(postback.isLoyaltyBoost).toBe(false)
      const body = yield* Schema.encodeEffect(PostbackJson)(postback)
      expect(body).toEqual(docsPostback)
    })
  )

  it("encodes to the canonical body, every field a string", () => {
    const postback: Postback = {
      offerId: "1511",
      advertiserName: "MomentScience",
      payout: Decimal.parse("30.00"),
      timestamp: new Date("2023-09-20T17:27:40.802+02:00"),
      isLoyaltyBoost: true,
      payload: { user_id: "3410444" }
    }
    expect(JSON.stringify(encodePostbackJson(postback))).toBe(
      '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"30.00","timestamp":"2023-09-20T15:27:40.802Z","is_loyaltyboost":"1","payload":{"user_id":"3410444"}}'
    )
  })

  it("refuses to encode an invalid postback, naming the field", () => {
    const postback = parsePostbackJson(docsPostback)
    if (!postback.ok) throw new Error("the docs example must decode")
    expect(() =>
      encodePostbackJson({ ...postback.postback, payout: Decimal.parse("-1.00") })
    ).toThrow(/payout/)
    expect(() => encodePostbackJson({ ...postback.postback, offerId: "" })).toThrow(/offerId/)
    expect(() =>
      encodePostbackJson({ ...postback.postback, timestamp: new Date(Number.NaN) })
    ).toThrow(/timestamp/)
  })

  it("reports every problem at once, each with its field", () => {
    const result = parsePostbackJson({
      offer_id: "",
      payout: "abc",
      timestamp: "2023-02-30T10:00:00Z",
      is_loyaltyboost: "yes",
      payload: { user_id: null, "bad key": "x" }
    })
    expect(errorsOf(result)).toEqual([
      { path: "offer_id", message: "must not be empty" },
      { path: "payout", message: 'expected a decimal string like "2.10", got "abc"' },
      { path: "timestamp", message: 'is not a calendar date, got "2023-02-30T10:00:00Z"' },
      { path: "is_loyaltyboost", message: 'expected "1" or "0", got "yes"' },
      { path: "payload.user_id", message: "expected a string, got null" },
      { path: 'payload["bad key"]', message: "the key does not match /^[A-Za-z0-9_.-]{1,128}$/" }
    ])
  })

  it("names every missing required field", () => {
    expect(errorsOf(parsePostbackJson({}))).toEqual([
      { path: "offer_id", message: "is required" },
      { path: "payout", message: "is required" },
      { path: "timestamp", message: "is required" },
      { path: "is_loyaltyboost", message: "is required" }
    ])
  })

  it("refuses a body that is not an object", () => {
    for (const body of [null, [], "postback", 12, true, undefined]) {
      expect(onlyError(body)).toMatch(/^: expected a JSON object with the postback fields, got /)
    }
  })

  it("decodes the wire-form fields a macro template match gives", () => {
    // `match()` of @org/postback-macros: strings for the fields the template carries.
    const fields = {
      offer_id: "1511",
      payout: "2.10",
      timestamp: "2023-09-20T15:27:40.802Z",
      is_loyaltyboost: "1",
      payload: { user_id: "3410444" }
    }
    const result = parsePostbackJson(fields)
    expect(result.ok && result.postback.isLoyaltyBoost).toBe(true)
    expect(result.ok && result.postback.advertiserName).toBe("")
    const partial = { offer_id: "1511", payout: "2.10", timestamp: undefined, payload: {} }
    expect(errorsOf(parsePostbackJson(partial))).toEqual([
      { path: "timestamp", message: "is required" },
      { path: "is_loyaltyboost", message: "is required" }
    ])
  })

  it("reads an absent advertiser_name or payload as empty, and ignores unknown keys", () => {
    const { advertiser_name: _, payload: __, ...rest } = docsPostback
    const result = parsePostbackJson({ ...rest, campaign: "spring" })
    expect(result.ok && result.postback.advertiserName).toBe("")
    expect(result.ok && result.postback.payload).toEqual({})
  })

  describe("offer_id", () => {
    it("takes a non-negative JSON integer as its decimal text", () => {
      const result = parsePostbackJson(withField("offer_id", 1511))
      expect(result.ok && result.postback.offerId).toBe("1511")
    })

    it.each([
      ["", "offer_id: must not be empty"],
      [-1, "offer_id: expected a non-empty string or a non-negative integer, got -1"],
      [1.5, "offer_id: expected a non-empty string or a non-negative integer, got 1.5"],
      [
        2 ** 53,
        "offer_id: expected a non-empty string or a non-negative integer, got 9007199254740992"
      ],
      [Number.NaN, "offer_id: expected a non-empty string or a non-negative integer, got NaN"],
      [null, "offer_id: expected a non-empty string or a non-negative integer, got null"],
      [{}, "offer_id: expected a non-empty string or a non-negative integer, got an object"],
      ["x".repeat(1025), "offer_id: must be at most 1024 characters, got 1025"]
    ])("refuses %j", (value, message) => {
      expect(onlyError(withField("offer_id", value))).toBe(message)
    })
  })

  describe("advertiser_name", () => {
    it.each([
      [42, "advertiser_name: expected a string, got 42"],
      [null, "advertiser_name: expected a string, got null"],
      ["x".repeat(1025), "advertiser_name: must be at most 1024 characters, got 1025"]
    ])("refuses %j", (value, message) => {
      expect(onlyError(withField("advertiser_name", value))).toBe(message)
    })

    it("accepts an empty name", () => {
      expect(parsePostbackJson(withField("advertiser_name", "")).ok).toBe(true)
    })
  })

  describe("payout", () => {
    it.each([
      ["2.10", "2.10"],
      ["0", "0"],
      ["007.50", "7.50"],
      ["999999999999.99999999", "999999999999.99999999"],
      [2.1, "2.1"],
      [30, "30"],
      [0, "0"]
    ])("reads %j as %s", (value, text) => {
      const result = parsePostbackJson(withField("payout", value))
      expect(result.ok && result.postback.payout.toString()).toBe(text)
    })

    it.each([
      ["", 'payout: expected a decimal string like "2.10", got ""'],
      ["abc", 'payout: expected a decimal string like "2.10", got "abc"'],
      [" 2.10", 'payout: expected a decimal string like "2.10", got " 2.10"'],
      ["2,10", 'payout: expected a decimal string like "2.10", got "2,10"'],
      ["$2.10", 'payout: expected a decimal string like "2.10", got "$2.10"'],
      [".5", 'payout: expected a decimal string like "2.10", got ".5"'],
      ["+1", 'payout: expected a decimal string like "2.10", got "+1"'],
      ["NaN", 'payout: expected a decimal string like "2.10", got "NaN"'],
      ["Infinity", 'payout: expected a decimal string like "2.10", got "Infinity"'],
      [Number.NaN, 'payout: expected a decimal string like "2.10", got NaN'],
      [Number.POSITIVE_INFINITY, 'payout: expected a decimal string like "2.10", got Infinity'],
      [true, 'payout: expected a decimal string like "2.10", got true'],
      [null, 'payout: expected a decimal string like "2.10", got null'],
      [
        "1e3",
        'payout: exponent notation is not accepted, expected a decimal string like "2.10", got "1e3"'
      ],
      [
        "2.5E-2",
        'payout: exponent notation is not accepted, expected a decimal string like "2.10", got "2.5E-2"'
      ],
      [
        1e21,
        'payout: the JSON number 1e+21 prints in exponent notation; send the payout as a string like "2.10"'
      ],
      [
        1e-7,
        'payout: the JSON number 1e-7 prints in exponent notation; send the payout as a string like "2.10"'
      ],
      ["-2.10", 'payout: must not be negative, got "-2.10"'],
      [-1, "payout: must not be negative, got -1"],
      [
        "0.123456789",
        'payout: must have at most 8 digits after the decimal point, got "0.123456789"'
      ],
      [
        "1234567890123",
        'payout: must have at most 12 digits before the decimal point, got "1234567890123"'
      ]
    ])("refuses %j", (value, message) => {
      expect(onlyError(withField("payout", value))).toBe(message)
    })

    it("bounds digits by the options", () => {
      const strict = makePostbackJson({ maxPayoutIntegerDigits: 3, maxPayoutFractionDigits: 2 })
      const decode = Schema.decodeUnknownResult(strict)
      expect(Result.isSuccess(decode(withField("payout", "999.99")))).toBe(true)
      expect(Result.isFailure(decode(withField("payout", "1000")))).toBe(true)
      expect(Result.isFailure(decode(withField("payout", "1.001")))).toBe(true)
    })
  })

  describe("timestamp", () => {
    it.each([
      ["2023-09-20T15:27:40.802Z", "2023-09-20T15:27:40.802Z"],
      ["2023-09-20T15:27:40Z", "2023-09-20T15:27:40.000Z"],
      ["2023-09-20T17:27:40.802+02:00", "2023-09-20T15:27:40.802Z"],
      ["2023-09-20T10:57:40.802-04:30", "2023-09-20T15:27:40.802Z"],
      ["2023-09-20T17:27:40.802+0200", "2023-09-20T15:27:40.802Z"],
      ["2023-09-20t15:27:40.802z", "2023-09-20T15:27:40.802Z"],
      ["2023-09-20T15:27:40.8Z", "2023-09-20T15:27:40.800Z"],
      ["2023-09-20T15:27:40.802999999Z", "2023-09-20T15:27:40.802Z"],
      ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
      ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"],
      ["0050-06-01T00:00:00Z", "0050-06-01T00:00:00.000Z"],
      ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
      ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
      ["2023-01-01T00:30:00+01:00", "2022-12-31T23:30:00.000Z"]
    ])("reads %s as %s", (text, iso) => {
      const result = parsePostbackJson(withField("timestamp", text))
      expect(result.ok && result.postback.timestamp.toISOString()).toBe(iso)
    })

    it.each([
      ["2023-09-20T15:27:40.802", "has no time zone; add Z or an offset like +02:00"],
      ["2023-09-20T15:27:40", "has no time zone; add Z or an offset like +02:00"],
      ["2023-02-30T15:27:40Z", "is not a calendar date"],
      ["2023-02-29T15:27:40Z", "is not a calendar date"],
      ["1900-02-29T15:27:40Z", "is not a calendar date"],
      ["2023-13-01T15:27:40Z", "is not a calendar date"],
      ["2023-00-10T15:27:40Z", "is not a calendar date"],
      ["2023-09-31T15:27:40Z", "is not a calendar date"],
      ["2023-09-20T24:00:00Z", "is not a valid time of day"],
      ["2023-09-20T15:60:00Z", "is not a valid time of day"],
      ["2023-09-20T23:59:60Z", "is not a valid time of day"],
      ["2023-09-20T15:27:40+24:00", "has an invalid offset"],
      ["0000-01-01T00:00:00Z", "must fall in the years 0001 to 9999 UTC"],
      ["0000-12-31T23:59:59.999Z", "must fall in the years 0001 to 9999 UTC"],
      ["0001-01-01T00:30:00+01:00", "must fall in the years 0001 to 9999 UTC"],
      ["9999-12-31T23:30:00-01:00", "must fall in the years 0001 to 9999 UTC"],
      ["2023-09-20", "expected an ISO 8601 date-time with Z or an offset"],
      ["2023-09-20 15:27:40Z", "expected an ISO 8601 date-time with Z or an offset"],
      ["2023-09-20T15:27Z", "expected an ISO 8601 date-time with Z or an offset"],
      ["1695223660802", "expected an ISO 8601 date-time with Z or an offset"],
      ["", "expected an ISO 8601 date-time with Z or an offset"],
      ["Wed, 20 Sep 2023 15:27:40 GMT", "expected an ISO 8601 date-time with Z or an offset"]
    ])("refuses %s", (text, message) => {
      const error = onlyError(withField("timestamp", text))
      expect(error.startsWith(`timestamp: ${message}`)).toBe(true)
      expect(error).toContain(JSON.stringify(text))
    })

    it.each([1695223660802, null, {}])("refuses the non-string %j", (value) => {
      expect(onlyError(withField("timestamp", value))).toMatch(/^timestamp: expected an ISO 8601/)
    })
  })

  describe("is_loyaltyboost", () => {
    it.each([
      ["1", true],
      ["0", false],
      [1, true],
      [0, false],
      [true, true],
      [false, false]
    ])("reads %j as %s", (value, boost) => {
      const result = parsePostbackJson(withField("is_loyaltyboost", value))
      expect(result.ok && result.postback.isLoyaltyBoost).toBe(boost)
    })

    it.each(["true", "false", "yes", "", " 1", 2, -0.5, null, []])("refuses %j", (value) => {
      expect(onlyError(withField("is_loyaltyboost", value))).toMatch(
        /^is_loyaltyboost: expected "1" or "0", got /
      )
    })
  })

  describe("payload", () => {
    it("turns finite numbers and booleans into strings", () => {
      const result = parsePostbackJson(
        withField("payload", { user_id: 3410444, score: 2.5, vip: true, opted_out: false })
      )
      expect(result.ok && result.postback.payload).toEqual({
        user_id: "3410444",
        score: "2.5",
        vip: "true",
        opted_out: "false"
      })
    })

    it.each([
      [null, "payload.k: expected a string, got null"],
      [{ a: 1 }, "payload.k: expected a string, got an object"],
      [["a"], "payload.k: expected a string, got an array"],
      [
        2 ** 60,
        "payload.k: the number 1152921504606847000 is too large to be exact; send it as a string"
      ],
      [1e21, "payload.k: the number 1e+21 prints in exponent notation; send it as a string"],
      [Number.NaN, "payload.k: expected a string, got NaN"],
      ["x".repeat(1025), "payload.k: must be at most 1024 characters, got 1025"]
    ])("refuses the value %j", (value, message) => {
      expect(onlyError(withField("payload", { k: value }))).toBe(message)
    })

    it.each(["", "user id", "user/id", "ключ", "k".repeat(129)])("refuses the key %j", (key) => {
      expect(onlyError(withField("payload", { [key]: "v" }))).toMatch(/the key does not match/)
    })

    it.each([null, "user_id=1", ["a"], 12])("refuses a payload that is %j", (payload) => {
      expect(onlyError(withField("payload", payload))).toMatch(
        /^payload: expected an object of strings, got /
      )
    })

    it("limits the number of keys and the total size", () => {
      const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"]))
      expect(onlyError(withField("payload", many))).toBe(
        "payload: must have at most 50 keys, got 51"
      )
      const big = Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`k${i}`, "v".repeat(1000)])
      )
      expect(onlyError(withField("payload", big))).toBe(
        "payload: keys and values must total at most 16384 characters, got 20050"
      )
    })

    it("applies the guard rails given as options", () => {
      const strict = Schema.decodeUnknownResult(
        makePostbackJson({
          maxPayloadKeys: 1,
          payloadKeyPattern: /^\w+$/g,
          maxPayloadValueLength: 3,
          maxPayloadSize: 5
        }),
        { errors: "all" }
      )
      expect(Result.isSuccess(strict(withField("payload", { ab: "xyz" })))).toBe(true)
      // A global RegExp keeps `lastIndex` between calls; the option is copied without `g`.
      expect(Result.isSuccess(strict(withField("payload", { ab: "xyz" })))).toBe(true)
      const refused = strict(withField("payload", { "a-b": "wxyz", c: "1" }))
      expect(Result.isFailure(refused)).toBe(true)
      if (Result.isFailure(refused)) {
        expect(issuesFromSchemaIssue(refused.failure.issue)).toHaveLength(4)
      }
    })

    it("keeps a __proto__ key as an ordinary entry", () => {
      const result = parsePostbackJson(withField("payload", JSON.parse('{"__proto__":"x"}')))
      expect(result.ok).toBe(true)
      if (!result.ok) return
      expect(Object.getPrototypeOf(result.postback.payload)).toBe(Object.prototype)
      expect(Object.keys(result.postback.payload)).toEqual(["__proto__"])
      expect(Object.getOwnPropertyDescriptor(result.postback.payload, "__proto__")?.value).toBe("x")
    })
  })

  describe("options", () => {
    it.each([
      [{ maxPayloadKeys: -1 }, "option maxPayloadKeys must be a non-negative integer, got -1"],
      [
        { maxPayoutIntegerDigits: 0 },
        "option maxPayoutIntegerDigits must be a positive integer, got 0"
      ],
      [{ maxBodyBytes: 1.5 }, "option maxBodyBytes must be a positive integer, got 1.5"],
      [
        { payloadKeyPattern: "^\\w+$" },
        'option payloadKeyPattern must be a RegExp, got "^\\\\w+$"'
      ],
      [{ exclude: "secret" }, 'option exclude must be an array of parameter names, got "secret"'],
      [{ maxKeys: 3 }, 'unknown postback option "maxKeys"']
    ])("refuses %j", (options, message) => {
      expect(() => makePostbackJson(options as never)).toThrow(message)
      expect(() => parsePostbackJson(docsPostback, options as never)).toThrow(message)
    })
  })

  describe("properties", () => {
    it("encoding then decoding gives the same postback", () => {
      fc.assert(
        fc.property(postbackArb, (postback) => {
          const body = JSON.parse(JSON.stringify(encodePostbackJson(postback)))
          const result = parsePostbackJson(body)
          expect(result.ok).toBe(true)
          if (!result.ok) return
          expect(result.postback.payout.toString()).toBe(postback.payout.toString())
          expect(result.postback.timestamp.getTime()).toBe(postback.timestamp.getTime())
          expect({ ...result.postback, payout: null, timestamp: null }).toEqual({
            ...postback,
            payout: null,
            timestamp: null
          })
        }),
        { numRuns: 300 }
      )
    })

    it("decoding then encoding gives the canonical body back", () => {
      fc.assert(
        fc.property(postbackArb, (postback) => {
          const body = encodePostbackJson(postback)
          expect(
            Schema.encodeSync(PostbackJson)(Schema.decodeUnknownSync(PostbackJson)(body))
          ).toEqual(body)
        }),
        { numRuns: 200 }
      )
    })

    const junk = fc.oneof(
      fc.anything(),
      fc.record(
        {
          offer_id: fc.anything(),
          advertiser_name: fc.anything(),
          payout: fc.oneof(fc.anything(), fc.double(), fc.string()),
          timestamp: fc.oneof(
            fc.anything(),
            fc.string(),
            fc.date().map((d) => String(d))
          ),
          is_loyaltyboost: fc.anything(),
          payload: fc.oneof(fc.anything(), fc.dictionary(fc.string(), fc.anything()))
        },
        { requiredKeys: [] }
      )
    )

    it("junk never throws: it is a postback or a list of problems with paths", () => {
      fc.assert(
        fc.property(junk, (body) => {
          const result = parsePostbackJson(body)
          if (!result.ok) {
            expect(result.errors.length).toBeGreaterThan(0)
            for (const error of result.errors) {
              expect(typeof error.path).toBe("string")
              expect(error.message.length).toBeGreaterThan(0)
            }
          }
        }),
        { numRuns: 1000 }
      )
    })
  })

  describe("Standard Schema", () => {
    it("validates with the same messages and paths", async () => {
      const ok = await PostbackJsonStandardSchema["~standard"].validate(docsPostback)
      expect("value" in ok && ok.value.payout.toString()).toBe("2.10")
      const bad = await PostbackJsonStandardSchema["~standard"].validate(withField("payout", "abc"))
      expect(bad.issues).toEqual([
        { path: ["payout"], message: 'expected a decimal string like "2.10", got "abc"' }
      ])
    })
  })
})
