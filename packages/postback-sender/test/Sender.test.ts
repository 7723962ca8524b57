import { describe, expect, it } from "@effect/vitest"
import { momentScience, schedule } from "@org/postback-retry"
import { encodePostbackJson } from "@org/postback-schema"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import {
  type FetchLike,
  makeSender,
  SendError,
  samplePostback,
  sendOnce,
  sendOnceEffect
} from "../src/index.ts"
import { startServer } from "./support/server.ts"

describe("sendOnce", () => {
  it("answers with any status, body and latency, without retrying", async () => {
    const server = await startServer(() => ({ status: 503, body: "come back later" }))
    try {
      const result = await sendOnce(samplePostback(), {
        method: "POST",
        url: `${server.origin}/pb`
      })
      expect(result).toMatchObject({ status: 503, body: "come back later", bodyTruncated: false })
      expect(result.latencyMs).toBeGreaterThan(0)
      expect(server.received).toHaveLength(1)
      const cut = await sendOnce(
        samplePostback(),
        { method: "POST", url: `${server.origin}/pb` },
        { maxResponseChars: 4 }
      )
      expect(cut).toMatchObject({ body: "come", bodyTruncated: true })
    } finally {
      await server.close()
    }
  })

  it("rejects with a SendError when no answer comes in time; the message hides the secret", async () => {
    const server = await startServer(() => "hang")
    try {
      const error = await sendOnce(
        samplePostback(),
        { method: "POST", url: `${server.origin}/pb?secret=s3cret` },
        { timeoutMs: 50 }
      ).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SendError)
      const e = error as SendError
      expect(e._tag).toBe("SendError")
      expect(e.outcome).toEqual({ _tag: "timeout" })
      expect(e.detail).toBe("timeout after 50 ms")
      expect(e.message).toBe(`POST ${server.origin}/pb?secret=***: timeout after 50 ms`)
      expect(e.url).toBe(`${server.origin}/pb?secret=s3cret`)
      expect(e.latencyMs).toBeGreaterThanOrEqual(45)
    } finally {
      await server.close()
    }
  })

  it("rejects with a SendError for a refused connection", async () => {
    const server = await startServer()
    await server.close()
    const error = await sendOnce(samplePostback(), {
      method: "GET",
      url: `${server.origin}/pb`
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SendError)
    expect((error as SendError).outcome._tag).toBe("connectionError")
    expect((error as SendError).detail).toMatch(/^connection error \(.+\)$/)
  })

  it("an abort signal rejects with its reason", async () => {
    const server = await startServer(() => "hang")
    try {
      const controller = new AbortController()
      const pending = sendOnce(
        samplePostback(),
        { method: "POST", url: `${server.origin}/pb` },
        { signal: controller.signal }
      )
      setTimeout(() => controller.abort(new Error("cancelled")), 20)
      await expect(pending).rejects.toThrow("cancelled")
    } finally {
      await server.close()
    }
  })

  it.effect("a SendError carries its outcome to the retry package's Schedule", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const refuse: FetchLike = async (url) => {
        calls.push(url)
        throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })
      }
      const fiber = yield* Effect.forkChild(
        Effect.retryOrElse(
          sendOnceEffect(
            samplePostback(),
            { method: "POST", url: "http://down.test/pb" },
            { fetch: refuse }
          ),
          schedule(momentScience),
          (error, state) => Effect.succeed({ error, state })
        )
      )
      yield* TestClock.adjust("10 minutes")
      const result = yield* Fiber.join(fiber)
      expect(calls).toHaveLength(5)
      expect("state" in result && result.state).toMatchObject({
        _tag: "failed",
        attempts: 5,
        lastOutcome: { _tag: "connectionError", reason: "ECONNREFUSED" }
      })
    })
  )
})

describe("makeSender", () => {
  it("checks once and builds the same request for each postback", () => {
    const sender = makeSender({ method: "POST", url: "http://receiver.test/pb" })
    const postback = samplePostback()
    expect(sender.method).toBe("POST")
    expect(sender.request(postback).body).toBe(JSON.stringify(encodePostbackJson(postback)))
    expect(Object.isFrozen(sender)).toBe(true)
    expect(() => sender.request({ ...postback, payload: { n: 1 as never } })).toThrow(TypeError)
  })

  it.effect("sendOnceEffect fails with a SendError, typed", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        makeSender(
          { method: "POST", url: "http://x.test/pb" },
          { fetch: () => Promise.reject(new Error("boom")) }
        ).sendOnceEffect(samplePostback())
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(exit)
      expect(error).toBeInstanceOf(SendError)
      expect(error.detail).toBe("connection error (boom)")
    })
  )
})

describe("samplePostback", () => {
  it("is the documentation's conversion, stamped now, not LoyaltyBoost", () => {
    const before = Date.now()
    const sample = samplePostback()
    expect(encodePostbackJson(sample)).toMatchObject({
      offer_id: "1511",
      advertiser_name: "MomentScience",
      payout: "2.10",
      is_loyaltyboost: "0",
      payload: { user_id: "3410444", session_id: "abc123" }
    })
    expect(sample.timestamp.getTime()).toBeGreaterThanOrEqual(before)
    expect(sample.timestamp.getTime()).toBeLessThanOrEqual(Date.now())
    expect(samplePostback({ isLoyaltyBoost: true, payload: { user_id: "42" } })).toMatchObject({
      isLoyaltyBoost: true,
      payload: { user_id: "42" },
      offerId: "1511"
    })
    expect(() => samplePostback({ offer: "1" } as never)).toThrow(
      /samplePostback: unknown field "offer"/
    )
  })
})
