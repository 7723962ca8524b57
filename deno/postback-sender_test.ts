import {
  canonicalPostbackKey,
  Decimal,
  type Postback,
  parsePostbackRequest
} from "@org/postback-schema"
import {
  type AttemptReport,
  deliver,
  deliverEffect,
  EXIT,
  latencyStats,
  makeSender,
  runCli,
  runLoad,
  SendError,
  samplePostback,
  sendOnce
} from "@org/postback-sender"
import { Clock, Duration, Effect, Fiber, Queue } from "effect"
import { TestClock } from "effect/testing"
import { assert, assertEquals } from "./assert.ts"

const docs: Postback = {
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: false,
  payload: { user_id: "3410444" }
}

interface Seen {
  readonly method: string
  readonly url: string
  readonly body: string
}

/**
 * A Deno.serve receiver on a free port that records requests and answers
 * with `status(index)`; `"hang"` holds the request until the server closes.
 */
const serve = (status: (index: number) => number | "hang" = () => 200) => {
  const seen: Array<Seen> = []
  const closing = Promise.withResolvers<void>()
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url)
    const index =
      seen.push({ method: req.method, url: url.pathname + url.search, body: await req.text() }) - 1
    const answer = status(index)
    if (answer === "hang") {
      await closing.promise
      return new Response("closing", { status: 503 })
    }
    return new Response(answer === 200 ? "OK" : "no", { status: answer })
  })
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: async () => {
      closing.resolve()
      await server.shutdown()
    }
  }
}

Deno.test("postback-sender: POST, GET and template requests as documented", async () => {
  const server = serve()
  try {
    await sendOnce(docs, { method: "POST", url: `${server.origin}/postbacks?secret=s` })
    await sendOnce(docs, { method: "GET", url: `${server.origin}/postbacks?secret=s` })
    await sendOnce(
      { ...docs, advertiserName: "Moment Science & Co" },
      {
        method: "GET",
        template: `${server.origin}/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}&adv={advertiser_name}`
      }
    )
    assertEquals(server.seen, [
      {
        method: "POST",
        url: "/postbacks?secret=s",
        body: '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.10","timestamp":"2023-09-20T15:27:40.802Z","is_loyaltyboost":"0","payload":{"user_id":"3410444"}}'
      },
      {
        method: "GET",
        url: "/postbacks?secret=s&offer_id=1511&advertiser_name=MomentScience&payout=2.10&timestamp=2023-09-20T15%3A27%3A40.802Z&is_loyaltyboost=0&user_id=3410444",
        body: ""
      },
      {
        method: "GET",
        url: "/postbacks?payout=2.10&user_id=3410444&offer_id=1511&adv=Moment%20Science%20%26%20Co",
        body: ""
      }
    ])
  } finally {
    await server.close()
  }
})

Deno.test("postback-sender: a stub fetch-able endpoint decodes what is sent", async () => {
  const keys: Array<string> = []
  const receiver = async (request: Request) => {
    const result = await parsePostbackRequest(request, { exclude: ["secret"] })
    if (!result.ok) return new Response("bad", { status: 400 })
    keys.push(canonicalPostbackKey(result.postback))
    return new Response("OK")
  }
  const sender = makeSender(
    { method: "GET", url: "http://receiver.test/pb?secret=x" },
    { fetch: (url, init) => receiver(new Request(url, init)) }
  )
  const sample = samplePostback()
  const result = await sender.sendOnce(sample)
  assertEquals([result.status, result.body], [200, "OK"])
  assertEquals(keys, [canonicalPostbackKey(sample)])
})

Deno.test("postback-sender: deliver retries a scaled policy until 200", async () => {
  const server = serve((i) => (i < 2 ? 503 : 200))
  try {
    const report = await deliver(
      docs,
      { method: "POST", url: `${server.origin}/pb` },
      { timeScale: 0.001 }
    )
    assert(report.delivered)
    assertEquals(
      report.attempts.map((a) => a.status),
      [503, 503, 200]
    )
    assertEquals(report.state._tag, "delivered")
    assertEquals(new Set(server.seen.map((s) => s.body)).size, 1)
  } finally {
    await server.close()
  }
})

Deno.test("postback-sender: under the TestClock, 5 attempts at 0, 60, 150, 270, 420 s", async () => {
  const server = serve(() => 503)
  try {
    const program = Effect.gen(function* () {
      const t0 = yield* Clock.currentTimeMillis
      const attempts = yield* Queue.unbounded<AttemptReport>()
      const fiber = yield* Effect.forkChild(
        deliverEffect(
          docs,
          { method: "POST", url: `${server.origin}/pb` },
          { onAttempt: (a) => Queue.offerUnsafe(attempts, a) }
        )
      )
      for (const gap of [60, 90, 120, 150]) {
        yield* Queue.take(attempts)
        yield* TestClock.adjust(Duration.seconds(gap))
      }
      const report = yield* Fiber.join(fiber)
      return report.attempts.map((a) => (a.at.getTime() - t0) / 1000)
    }).pipe(Effect.provide(TestClock.layer()))
    assertEquals(await Effect.runPromise(program), [0, 60, 150, 270, 420])
    assertEquals(server.seen.length, 5)
  } finally {
    await server.close()
  }
})

Deno.test("postback-sender: no answer in time is a SendError (timeout)", async () => {
  const server = serve(() => "hang")
  try {
    const error = await sendOnce(
      docs,
      { method: "POST", url: `${server.origin}/pb` },
      { timeoutMs: 50 }
    ).then(
      () => undefined,
      (e: unknown) => e
    )
    assert(error instanceof SendError, `expected a SendError, got ${String(error)}`)
    assertEquals(error.outcome, { _tag: "timeout" })
    assertEquals(error.detail, "timeout after 50 ms")
  } finally {
    await server.close()
  }
})

Deno.test("postback-sender: runLoad counts answers and duplicates", async () => {
  const server = serve((i) => (i % 5 === 4 ? 503 : 200))
  try {
    const summary = await runLoad(
      { method: "POST", url: `${server.origin}/pb` },
      { rate: 500, durationSeconds: 0.1, duplicates: 0.2 }
    )
    assertEquals(
      [summary.sent, summary.duplicates, summary.ok, summary.non200, summary.errors],
      [50, 10, 40, 10, 0]
    )
    assertEquals(server.seen.length, 50)
    assertEquals(new Set(server.seen.map((s) => s.body)).size, 40)
    assertEquals(summary.latency?.count, 50)
  } finally {
    await server.close()
  }
  assertEquals(latencyStats([3, 1, 2])?.p50, 2)
})

Deno.test("postback-sender: runCli test and usage errors", async () => {
  const server = serve((i) => (i === 0 ? 200 : 500))
  try {
    let out = ""
    let err = ""
    const io = {
      stdout: (t: string) => {
        out += t
      },
      stderr: (t: string) => {
        err += t
      },
      readTextFile: (path: string) => Deno.readTextFile(path)
    }
    assertEquals(await runCli(["test", `${server.origin}/pb?secret=s3cret`], io), EXIT.ok)
    assert(out.includes("PASS: HTTP 200"), out)
    assert(!out.includes("s3cret"), "the secret is printed")
    assertEquals(await runCli(["test", `${server.origin}/pb`, "--method", "get"], io), EXIT.failed)
    assert(out.includes("FAIL: HTTP 500"), out)
    assertEquals(await runCli(["load", `${server.origin}/pb`, "--rate", "-3"], io), EXIT.usage)
    assert(err.includes("--rate must be a number above 0"), err)
  } finally {
    await server.close()
  }
})

Deno.test("postback-sender: bad options are refused before sending, naming them", async () => {
  const error = await deliver(docs, { method: "POST", url: "http://x/" }, { timeoutMs: -1 }).then(
    () => undefined,
    (e: unknown) => e
  )
  assert(error instanceof RangeError)
  assert(error.message.includes("deliver: timeoutMs must be a whole number"), error.message)
})
