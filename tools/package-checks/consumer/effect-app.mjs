// A user's app on Effect 4.1: the Effect API of @org/postback-schema and
// @org/postback-retry, as the READMEs show it. Exits non-zero on any surprise.

import { momentScience, Outcome, schedule } from "@org/postback-retry"
import { Decimal, decodeRequest, PostbackJson, postbackErrorJson } from "@org/postback-schema"
import { Effect, Fiber, Result, Schema } from "effect"
import { TestClock } from "effect/testing"

const fail = (message) => {
  console.error(`consumer: ${message}`)
  process.exit(1)
}

const body = {
  offer_id: "1511",
  advertiser_name: "MomentScience",
  payout: "2.10",
  timestamp: "2023-09-20T15:27:40.802Z",
  is_loyaltyboost: "1",
  payload: { user_id: "3410444" }
}

const postback = Schema.decodeUnknownSync(PostbackJson)(body)
if (!(postback.payout instanceof Decimal) || postback.payout.toString() !== "2.10") fail("payout")
const encoded = Schema.encodeSync(PostbackJson)(postback)
if (encoded.payout !== "2.10") fail("encode")
const refused = Schema.decodeUnknownResult(PostbackJson)({ ...body, payout: "abc" })
if (!Result.isFailure(refused)) fail("a bad payout decoded")

const answer = await Effect.runPromise(
  decodeRequest(new Request("https://publisher.example/pb", { method: "PUT" })).pipe(
    Effect.as(200),
    Effect.catchTag("PostbackDecodeError", (error) =>
      Effect.succeed(postbackErrorJson(error.issues).message)
    )
  )
)
if (answer !== "expected a GET or POST request, got PUT") fail(`decodeRequest: ${answer}`)

// MomentScience's policy: five attempts, the last 420 s after the first.
const final = await Effect.runPromise(
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(
      Effect.repeat(Effect.succeed(Outcome.response(503)), schedule(momentScience))
    )
    yield* TestClock.adjust("10 minutes")
    return yield* Fiber.join(fiber)
  }).pipe(Effect.provide(TestClock.layer()))
)
if (final._tag !== "failed" || final.attempts !== 5) fail(`retry: ${JSON.stringify(final)}`)
console.log("effect app: ok (postback-schema and postback-retry on effect 4.1)")
