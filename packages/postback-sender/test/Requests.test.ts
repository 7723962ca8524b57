import { describe, expect, it } from "@effect/vitest"
import { match, parseTemplate } from "@org/postback-macros"
import {
  canonicalPostbackKey,
  Decimal,
  type Postback,
  parsePostbackJson,
  parsePostbackQuery,
  parsePostbackRequest
} from "@org/postback-schema"
import { Effect } from "effect"
import * as fc from "fast-check"
import { type Endpoint, makeSender, requestFor, sendOnce } from "../src/index.ts"
import { startServer, testServer } from "./support/server.ts"

// The example of MomentScience's postback documentation, as the schema's README shows it.
const docs: Postback = {
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: false,
  payload: { user_id: "3410444" }
}
const DOCS_POST_BODY =
  '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.10","timestamp":"2023-09-20T15:27:40.802Z","is_loyaltyboost":"0","payload":{"user_id":"3410444"}}'
const DOCS_GET_QUERY =
  "offer_id=1511&advertiser_name=MomentScience&payout=2.10&timestamp=2023-09-20T15%3A27%3A40.802Z&is_loyaltyboost=0&user_id=3410444"

describe("the requests a receiver gets", () => {
  it.effect("POST: the JSON body of the documentation, to the URL as given", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      const result = yield* Effect.promise(() =>
        sendOnce(docs, { method: "POST", url: `${server.origin}/postbacks?secret=s3cret` })
      )
      expect(result.status).toBe(200)
      expect(server.received).toHaveLength(1)
      const [request] = server.received
      expect(request!.method).toBe("POST")
      expect(request!.url).toBe("/postbacks?secret=s3cret")
      expect(request!.headers["content-type"]).toBe("application/json")
      expect(request!.body).toBe(DOCS_POST_BODY)
    })
  )

  it.effect("GET: every field a query parameter after the URL's own query", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      yield* Effect.promise(() =>
        sendOnce(docs, { method: "GET", url: `${server.origin}/postbacks?secret=s3cret` })
      )
      yield* Effect.promise(() => sendOnce(docs, { method: "GET", url: `${server.origin}/pb` }))
      expect(server.received.map((r) => [r.method, r.url, r.body])).toEqual([
        ["GET", `/postbacks?secret=s3cret&${DOCS_GET_QUERY}`, ""],
        ["GET", `/pb?${DOCS_GET_QUERY}`, ""]
      ])
      expect(server.received[0]!.headers["content-type"]).toBeUndefined()
    })
  )

  it.effect("GET with macros: the template of the documentation, rendered", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      const template = `${server.origin}/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}`
      const postback = { ...docs, advertiserName: "Moment Science & Co", isLoyaltyBoost: true }
      yield* Effect.promise(() => sendOnce(postback, { method: "GET", template }))
      // A template parsed once is accepted as well.
      yield* Effect.promise(() =>
        sendOnce(postback, { method: "GET", template: parseTemplate(template) })
      )
      expect(server.received.map((r) => r.url)).toEqual([
        "/postbacks?payout=2.10&user_id=3410444&offer_id=1511",
        "/postbacks?payout=2.10&user_id=3410444&offer_id=1511"
      ])
    })
  )

  it.effect("GET with macros: path macros, encoding and absent payload keys", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      const base = `${server.origin}/pb/{offer_id}?adv={advertiser_name}&ts={timestamp}&lb={is_loyaltyboost}&sub={sub_id}`
      const postback = { ...docs, advertiserName: "Moment Science & Co", isLoyaltyBoost: true }
      yield* Effect.promise(() => sendOnce(postback, { method: "GET", template: base }))
      yield* Effect.promise(() =>
        sendOnce(postback, { method: "GET", template: base, missing: "keep" })
      )
      expect(server.received.map((r) => r.url)).toEqual([
        "/pb/1511?adv=Moment%20Science%20%26%20Co&ts=2023-09-20T15:27:40.802Z&lb=1&sub=",
        "/pb/1511?adv=Moment%20Science%20%26%20Co&ts=2023-09-20T15:27:40.802Z&lb=1&sub=%7Bsub_id%7D"
      ])
    })
  )

  it("requestFor shows the same request without sending it", () => {
    const post = requestFor(docs, { method: "POST", url: "https://pub.example/pb?secret=s" })
    expect(post).toEqual({
      method: "POST",
      url: "https://pub.example/pb?secret=s",
      headers: { "content-type": "application/json" },
      body: DOCS_POST_BODY
    })
    const get = requestFor(
      docs,
      { method: "GET", url: new URL("https://pub.example/pb#ignored") },
      { headers: { Authorization: "Bearer t" } }
    )
    expect(get).toEqual({
      method: "GET",
      url: `https://pub.example/pb?${DOCS_GET_QUERY}`,
      headers: { authorization: "Bearer t" }
    })
  })

  it.effect("extra headers are sent, and may replace the content type", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      yield* Effect.promise(() =>
        sendOnce(
          docs,
          { method: "POST", url: `${server.origin}/pb` },
          { headers: { "X-Test": "yes", "Content-Type": "text/plain" } }
        )
      )
      expect(server.received[0]!.headers["x-test"]).toBe("yes")
      expect(server.received[0]!.headers["content-type"]).toBe("text/plain")
    })
  )

  it("a stub fetch: the request decodes with the schema package as a receiver would", async () => {
    const seen: Array<Postback> = []
    const handler = async (request: Request): Promise<Response> => {
      const result = await parsePostbackRequest(request, { exclude: ["secret"] })
      if (!result.ok) return Response.json(result.errors, { status: 400 })
      seen.push(result.postback)
      return new Response("OK")
    }
    const fetch = (url: string, init: RequestInit) => handler(new Request(url, init))
    for (const method of ["POST", "GET"] as const) {
      const result = await sendOnce(
        docs,
        { method, url: "http://receiver.test/postbacks?secret=s3cret" },
        { fetch }
      )
      expect(result).toMatchObject({ status: 200, body: "OK" })
    }
    expect(seen.map((postback) => canonicalPostbackKey(postback))).toEqual([
      canonicalPostbackKey(docs),
      canonicalPostbackKey(docs)
    ])
  })
})

// Postbacks with values that need escaping everywhere, for the round trips.
const text = fc.string({ unit: "grapheme", minLength: 0, maxLength: 12 })
const postbackArb: fc.Arbitrary<Postback> = fc.record({
  // "." and ".." cannot be a whole path segment (render refuses them).
  offerId: fc
    .string({ unit: "grapheme", minLength: 1, maxLength: 8 })
    .filter((s) => s !== "." && s !== ".."),
  advertiserName: text,
  payout: fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 10n }), fc.integer({ min: 0, max: 4 }))
    .map(([c, s]) => Decimal.make(c, s)),
  timestamp: fc
    .integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) })
    .map((t) => new Date(t)),
  isLoyaltyBoost: fc.boolean(),
  payload: fc.dictionary(
    fc
      .stringMatching(/^[a-z][a-z0-9_]{0,9}$/)
      .filter(
        (k) =>
          ![
            "offer_id",
            "advertiser_name",
            "payout",
            "timestamp",
            "is_loyaltyboost",
            "secret"
          ].includes(k)
      ),
    text,
    { maxKeys: 4 }
  )
})

describe("round trips through a real server", () => {
  // One server for all runs; every run checks the request it caused.
  const withServer = async (
    check: (origin: string, last: () => { url: string; body: string }) => Promise<void>
  ) => {
    const server = await startServer()
    try {
      await check(server.origin, () => server.received[server.received.length - 1]!)
    } finally {
      await server.close()
    }
  }

  it("POST and GET bodies decode back to the same postback", () =>
    withServer(async (origin, last) => {
      const post = makeSender({ method: "POST", url: `${origin}/pb?secret=x` })
      const get = makeSender({ method: "GET", url: `${origin}/pb?secret=x` })
      await fc.assert(
        fc.asyncProperty(postbackArb, async (postback) => {
          await post.sendOnce(postback)
          const json = parsePostbackJson(JSON.parse(last().body))
          expect(json.ok && canonicalPostbackKey(json.postback)).toBe(
            canonicalPostbackKey(postback)
          )
          await get.sendOnce(postback)
          const query = parsePostbackQuery(new URL(last().url, origin).searchParams, {
            exclude: ["secret"]
          })
          expect(query.ok && canonicalPostbackKey(query.postback)).toBe(
            canonicalPostbackKey(postback)
          )
        }),
        { numRuns: 40 }
      )
    }))

  it("a rendered template matches back to the postback's wire values", () =>
    withServer(async (origin, last) => {
      const text = `${origin}/pb/{offer_id}?a={payout}&b={timestamp}&c={advertiser_name}&d={is_loyaltyboost}&u={user_id}`
      const template = parseTemplate(text)
      const endpoint: Endpoint = { method: "GET", template }
      const sender = makeSender(endpoint)
      await fc.assert(
        fc.asyncProperty(postbackArb, async (postback) => {
          await sender.sendOnce(postback)
          const matched = match(template, last().url)
          expect(matched.ok).toBe(true)
          if (!matched.ok) return
          const decoded = parsePostbackJson(matched.fields)
          expect(decoded.ok).toBe(true)
          if (!decoded.ok) return
          expect(decoded.postback.offerId).toBe(postback.offerId)
          expect(decoded.postback.advertiserName).toBe(postback.advertiserName)
          expect(decoded.postback.payout.toString()).toBe(postback.payout.toString())
          expect(decoded.postback.timestamp.getTime()).toBe(postback.timestamp.getTime())
          expect(decoded.postback.payload.user_id ?? "").toBe(postback.payload.user_id ?? "")
        }),
        { numRuns: 40 }
      )
    }))
})
