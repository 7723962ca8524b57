import { describe, expect, it } from "@effect/vitest"
import { ForwardedEventError, verifyForwardedEvent } from "@org/postback-handler/events"
import { Effect } from "effect"
import { Webhook } from "standardwebhooks"
import { signEvent } from "../src/Forward/Signing.ts"

const SECRET = `whsec_${Buffer.alloc(32, 4).toString("base64")}`
const OTHER = `whsec_${Buffer.alloc(32, 6).toString("base64")}`
const body = JSON.stringify({
  type: "postback.credited",
  timestamp: "2026-11-30T14:00:00.000Z",
  data: { postbackId: 7, userId: "ana", payout: "30.00", points: "300" }
})

const refusal = (promise: Promise<unknown>) =>
  Effect.promise(() =>
    promise.then(
      () => "verified",
      (error: unknown) => (error instanceof ForwardedEventError ? error.reason : String(error))
    )
  )

describe("@org/postback-handler/events against the receiver's signatures", () => {
  it.effect(
    "verifies what the receiver signs (standardwebhooks), refuses the rest naming why",
    () =>
      Effect.gen(function* () {
        const at = new Date()
        const headers = { ...signEvent([SECRET], "evt_7", at, body) }
        // The library and the Web Crypto decoder agree.
        expect(new Webhook(SECRET).verify(body, headers)).toBeTypeOf("object")
        const verified = yield* Effect.promise(() => verifyForwardedEvent(SECRET, body, headers))
        expect(verified.webhookId).toBe("evt_7")
        expect(verified.event.data.points).toBe("300")
        // A Web Request with the same headers.
        const fromHeaders = yield* Effect.promise(() =>
          verifyForwardedEvent(SECRET, body, new Headers(headers))
        )
        expect(fromHeaders.webhookId).toBe("evt_7")
        // During a rotation either secret verifies.
        const rotating = { ...signEvent([OTHER, SECRET], "evt_7", at, body) }
        expect(yield* refusal(verifyForwardedEvent(SECRET, body, rotating))).toBe("verified")
        expect(yield* refusal(verifyForwardedEvent(OTHER, body, rotating))).toBe("verified")

        expect(yield* refusal(verifyForwardedEvent(OTHER, body, headers))).toBe("webhook-signature")
        expect(
          yield* refusal(verifyForwardedEvent(SECRET, body.replace("300", "3000"), headers))
        ).toBe("webhook-signature")
        expect(
          yield* refusal(
            verifyForwardedEvent(SECRET, body, headers, { now: new Date(at.getTime() + 301_000) })
          )
        ).toBe("webhook-timestamp")
        const { "webhook-id": _, ...noId } = headers
        expect(yield* refusal(verifyForwardedEvent(SECRET, body, noId))).toBe("webhook-id")
        const floaty = body.replace('"300"', "300")
        expect(
          yield* refusal(
            verifyForwardedEvent(SECRET, floaty, { ...signEvent([SECRET], "evt_8", at, floaty) })
          )
        ).toBe("data.points")
      })
  )
})
