import {
  canonicalPostbackKey,
  Decimal,
  decodeRequest,
  encodePostbackJson,
  encodePostbackQuery,
  isWireField,
  PostbackJsonStandardSchema,
  parsePostbackJson,
  parsePostbackQuery,
  parsePostbackRequest,
  postbackErrorJson,
  WIRE_FIELDS
} from "@org/postback-schema"
import { Effect, Result } from "effect"
import { assert, assertEquals, assertThrows } from "./assert.ts"

const docsBody = {
  offer_id: "1511",
  advertiser_name: "MomentScience",
  payout: "2.10",
  timestamp: "2023-09-20T15:27:40.802Z",
  is_loyaltyboost: "0",
  payload: { user_id: "3410444", session_id: "abc123" }
}

const docsQuery =
  "payout=2.10&timestamp=2023-09-20T15:27:40.802Z&offer_id=1511&advertiser_name=MomentScience&is_loyaltyboost=0&user_id=3410444"

Deno.test("postback-schema: wire fields", () => {
  assertEquals(WIRE_FIELDS.length, 5)
  assertEquals(isWireField("user_id"), false)
})

Deno.test("postback-schema: exact decimals", () => {
  assertEquals(Decimal.parse("2.10").multiply(Decimal.parse("10")).toString(), "21.00")
  assertEquals(Decimal.parse("30").multiply(Decimal.parse("10")).toBigInt("floor"), 300n)
})

Deno.test("postback-schema: parses the documented POST body", () => {
  const result = parsePostbackJson(docsBody)
  assert(result.ok, "the documented body decodes")
  assertEquals(result.postback.payout.toString(), "2.10")
  assertEquals(result.postback.timestamp.toISOString(), "2023-09-20T15:27:40.802Z")
  assertEquals(result.postback.payload, { user_id: "3410444", session_id: "abc123" })
  assertEquals(encodePostbackJson(result.postback), docsBody)
})

Deno.test("postback-schema: parses the documented GET query", () => {
  const result = parsePostbackQuery(new URLSearchParams(`${docsQuery}&secret=x`), {
    exclude: ["secret"]
  })
  assert(result.ok, "the documented query decodes")
  assertEquals(result.postback.offerId, "1511")
  assertEquals(result.postback.payload, { user_id: "3410444" })
  assertEquals(
    encodePostbackQuery(result.postback).toString(),
    "offer_id=1511&advertiser_name=MomentScience&payout=2.10&timestamp=2023-09-20T15%3A27%3A40.802Z&is_loyaltyboost=0&user_id=3410444"
  )
})

Deno.test("postback-schema: a GET and a POST of one postback share a key", () => {
  const fromJson = parsePostbackJson(docsBody)
  const fromQuery = parsePostbackQuery(`${docsQuery}&session_id=abc123`)
  assert(fromJson.ok && fromQuery.ok)
  assertEquals(canonicalPostbackKey(fromJson.postback), canonicalPostbackKey(fromQuery.postback))
})

Deno.test("postback-schema: reports every problem with its path", () => {
  const result = parsePostbackJson({
    ...docsBody,
    payout: "abc",
    timestamp: "2023-02-30T00:00:00Z"
  })
  assert(!result.ok, "the body is refused")
  assertEquals(result.errors, [
    { path: "payout", message: 'expected a decimal string like "2.10", got "abc"' },
    { path: "timestamp", message: 'is not a calendar date, got "2023-02-30T00:00:00Z"' }
  ])
  const body = postbackErrorJson(result.errors)
  assertEquals(body.error, "invalid_postback")
  assertEquals(body.issues.length, 2)
  const duplicate = parsePostbackQuery(`${docsQuery}&payout=3`)
  assert(!duplicate.ok)
  assertEquals(duplicate.errors[0]?.path, "payout")
})

Deno.test("postback-schema: decodes Web Requests (GET, POST JSON, POST form)", async () => {
  const get = await parsePostbackRequest(new Request(`https://publisher.example/pb?${docsQuery}`))
  assert(get.ok, "GET decodes")
  const post = await parsePostbackRequest(
    new Request("https://publisher.example/pb", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(docsBody)
    })
  )
  assert(post.ok, "POST JSON decodes")
  const form = await parsePostbackRequest(
    new Request("https://publisher.example/pb?secret=x", {
      method: "POST",
      body: new URLSearchParams(docsQuery)
    })
  )
  assert(form.ok, "POST form decodes")
  assertEquals(form.postback.payload, { user_id: "3410444" })
})

Deno.test("postback-schema: decodeRequest fails with a typed error", async () => {
  const request = new Request("https://publisher.example/pb", { method: "PUT", body: "{}" })
  const outcome = await Effect.runPromise(Effect.result(decodeRequest(request)))
  assert(Result.isFailure(outcome), "a PUT is refused")
  assertEquals(outcome.failure._tag, "PostbackDecodeError")
  assertEquals(outcome.failure.issues, [
    { path: "", message: "expected a GET or POST request, got PUT" }
  ])
})

Deno.test("postback-schema: Standard Schema and encoding errors", async () => {
  const checked = await PostbackJsonStandardSchema["~standard"].validate({
    ...docsBody,
    payout: -1
  })
  assertEquals(checked.issues?.[0]?.message, "must not be negative, got -1")
  const decoded = parsePostbackJson(docsBody)
  assert(decoded.ok)
  assertThrows(() => encodePostbackQuery({ ...decoded.postback, payload: { payout: "1" } }))
})
