import type { ConnectionErrorOutcome, RetryPolicy, TimeoutOutcome } from "@org/postback-retry"
import type { Postback } from "@org/postback-schema"
import { Effect } from "effect"
import type { AttemptReport, DeliveryReport } from "./DeliveryReport.ts"
import type { Endpoint, OutgoingRequest } from "./Endpoint.ts"
import { optionsRecord } from "./internal/checks.ts"
import { deliveryEffect, errorText, runPlain } from "./internal/deliver.ts"
import { compileEndpoint } from "./internal/endpoint.ts"
import { exchange, type FetchLike } from "./internal/exchange.ts"
import {
  DELIVER_OPTIONS,
  type ResolvedSend,
  resolveDeliver,
  SEND_OPTIONS,
  splitSignal
} from "./internal/options.ts"
import { redactUrl } from "./internal/redact.ts"

export type { FetchLike } from "./internal/exchange.ts"

/** Options of a single exchange ({@link sendOnce}) and of every attempt of a delivery. */
export interface SendOptions {
  /**
   * Time allowed for one attempt, from sending the request to the end of the
   * response body, in milliseconds (default 10 000). An attempt that takes
   * longer is aborted and counts as a timeout, a failure.
   */
  readonly timeoutMs?: number
  /** Extra request headers (names are sent in lower case). A POST has `content-type: application/json` unless given here. */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * The `fetch` to call (default: the global `fetch`, looked up at each
   * call). Pass a stub, or an app's handler:
   * `fetch: (url, init) => app.fetch(new Request(url, init))`.
   */
  readonly fetch?: FetchLike
  /** Characters of each response body kept in results and reports (default 8192); the rest is read and dropped. */
  readonly maxResponseChars?: number
}

/** Options of a delivery ({@link deliver}): {@link SendOptions} plus the retry policy. */
export interface DeliverOptions extends SendOptions {
  /** The retry policy (default `momentScience` of `@org/postback-retry`: 5 attempts, 60/90/120/150 s apart, only 200 is success). */
  readonly policy?: RetryPolicy
  /**
   * Multiplies every delay of the policy (`scaled(policy, timeScale)`):
   * `0.01` runs MomentScience's 420 s of retries in 4.2 s. Default 1. The
   * per-attempt timeout is not scaled.
   */
  readonly timeScale?: number
  /** Called after each attempt, before waiting for the next one (progress output, test synchronisation). */
  readonly onAttempt?: (attempt: AttemptReport) => void
}

/** Options of the Promise-returning functions only. */
export interface RunOptions {
  /** Aborting rejects the returned promise with the signal's reason and aborts the request in flight. */
  readonly signal?: AbortSignal
}

/** The answer to one request ({@link sendOnce}). */
export interface SendResult {
  /** The HTTP status, whatever it is (a `503` is a result, not an error). */
  readonly status: number
  /** The response body, cut at `maxResponseChars`. */
  readonly body: string
  readonly bodyTruncated: boolean
  /** From sending the request to the end of the response body, in milliseconds. */
  readonly latencyMs: number
}

/**
 * No answer to a request: a timeout or a connection error (refused, reset,
 * DNS, TLS). Its `outcome` field is what `@org/postback-retry`'s `schedule`
 * reads, so `Effect.retry(sendOnceEffect(...), schedule(policy))` records it.
 */
export class SendError extends Error {
  readonly _tag: "SendError" = "SendError"
  readonly outcome: TimeoutOutcome | ConnectionErrorOutcome
  /** The request's URL (as sent, credentials included). */
  readonly url: string
  /** `"timeout after 10000 ms"` or `"connection error (ECONNREFUSED)"`. */
  readonly detail: string
  readonly latencyMs: number

  constructor(
    method: string,
    url: string,
    outcome: TimeoutOutcome | ConnectionErrorOutcome,
    detail: string,
    latencyMs: number
  ) {
    super(`${method} ${redactUrl(url)}: ${detail}`)
    this.name = "SendError"
    this.outcome = outcome
    this.url = url
    this.detail = detail
    this.latencyMs = latencyMs
  }
}

/**
 * An endpoint and options, checked once; reuse it for many postbacks (a
 * template is parsed once, headers checked once).
 */
export interface Sender {
  readonly method: "GET" | "POST"
  /** What would be sent for a postback, without sending it. Throws a `TypeError` naming the field of an invalid postback. */
  readonly request: (postback: Postback) => OutgoingRequest
  /** One request, no retries. Rejects with a {@link SendError} when there is no answer. */
  readonly sendOnce: (postback: Postback, options?: RunOptions) => Promise<SendResult>
  /** {@link Sender.sendOnce} as an Effect (the request is built, and checked, when this is called). */
  readonly sendOnceEffect: (postback: Postback) => Effect.Effect<SendResult, SendError>
  /** Delivers under the retry policy; resolves with the report whether or not it was delivered. */
  readonly deliver: (postback: Postback, options?: RunOptions) => Promise<DeliveryReport>
  /** {@link Sender.deliver} as an Effect on the Effect clock: under `TestClock`, retries wait for `TestClock.adjust`. */
  readonly deliverEffect: (postback: Postback) => Effect.Effect<DeliveryReport>
}

const sendOnceWith = (
  request: OutgoingRequest,
  settings: ResolvedSend
): Effect.Effect<SendResult, SendError> =>
  Effect.flatMap(exchange(request, settings.exchange), (x) => {
    if (x._tag === "response") {
      return Effect.succeed({
        status: x.status,
        body: x.body,
        bodyTruncated: x.bodyTruncated,
        latencyMs: x.latencyMs
      })
    }
    const outcome: TimeoutOutcome | ConnectionErrorOutcome =
      x._tag === "timeout" ? { _tag: "timeout" } : { _tag: "connectionError", reason: x.reason }
    return Effect.fail(
      new SendError(
        request.method,
        request.url,
        outcome,
        errorText(x, settings.exchange.timeoutMs)!,
        x.latencyMs
      )
    )
  })

const rejecting = <A>(run: () => Promise<A>): Promise<A> => {
  try {
    return run()
  } catch (error) {
    return Promise.reject(error)
  }
}

const checkSignal = (options: unknown, where: string): AbortSignal | undefined =>
  splitSignal(options, where, []).signal

/**
 * Checks an endpoint and options once (a bad one throws a `TypeError` or
 * `RangeError` naming it) and returns a {@link Sender} for many postbacks.
 *
 * @example
 * import { makeSender, samplePostback } from "@org/postback-sender"
 *
 * const sender = makeSender({ method: "POST", url: "http://127.0.0.1:8080/postbacks?secret=s3cret" }, { timeoutMs: 5000 })
 * const { status, body } = await sender.sendOnce(samplePostback())
 */
export const makeSender = (endpoint: Endpoint, options?: DeliverOptions): Sender =>
  build(endpoint, optionsRecord(options, "makeSender", DELIVER_OPTIONS), "makeSender")

const build = (
  endpoint: Endpoint,
  options: Readonly<Record<string, unknown>>,
  where: string
): Sender => {
  const settings = resolveDeliver(options, where)
  const compiled = compileEndpoint(endpoint, settings.headers, where)
  const request = (postback: Postback): OutgoingRequest => compiled.request(postback)
  const sender: Sender = {
    method: compiled.method,
    request,
    sendOnceEffect: (postback) => sendOnceWith(request(postback), settings),
    sendOnce: (postback, run) =>
      rejecting(() =>
        runPlain(sendOnceWith(request(postback), settings), checkSignal(run, "Sender.sendOnce"))
      ),
    deliverEffect: (postback) => deliveryEffect(request(postback), settings),
    deliver: (postback, run) =>
      rejecting(() =>
        runPlain(deliveryEffect(request(postback), settings), checkSignal(run, "Sender.deliver"))
      )
  }
  return Object.freeze(sender)
}

/**
 * Sends one postback once, without retries, and returns the answer whatever
 * its status. For a receiver's own tests: the same request bytes as
 * {@link deliver}. Rejects with a {@link SendError} on a timeout or a
 * connection error, and with a `TypeError`/`RangeError` naming a bad
 * option, endpoint field or postback field before sending anything.
 *
 * @example
 * import { samplePostback, sendOnce } from "@org/postback-sender"
 *
 * const { status, body, latencyMs } = await sendOnce(
 *   samplePostback(),
 *   { method: "GET", url: "http://127.0.0.1:8080/postbacks?secret=s3cret" },
 *   { timeoutMs: 2000 }
 * )
 */
export const sendOnce = (
  postback: Postback,
  endpoint: Endpoint,
  options?: SendOptions & RunOptions
): Promise<SendResult> =>
  rejecting(() => {
    const { options: o, signal } = splitSignal(options, "sendOnce", SEND_OPTIONS)
    return build(endpoint, o, "sendOnce").sendOnce(
      postback,
      signal === undefined ? undefined : { signal }
    )
  })

/** {@link sendOnce} as an Effect. Throws at once for a bad option, endpoint or postback. */
export const sendOnceEffect = (
  postback: Postback,
  endpoint: Endpoint,
  options?: SendOptions
): Effect.Effect<SendResult, SendError> => {
  const o = optionsRecord(options, "sendOnceEffect", SEND_OPTIONS)
  return build(endpoint, o, "sendOnceEffect").sendOnceEffect(postback)
}

/**
 * Delivers a postback as MomentScience does: the request for the endpoint
 * (POST JSON, GET query or GET template), retried under the policy
 * (MomentScience's by default: 5 attempts, 60, 90, 120 and 150 s after
 * each failure, only `200` is success), each attempt within `timeoutMs`.
 * Resolves with the {@link DeliveryReport}, delivered or not; rejects only
 * for a bad option, endpoint or postback (a `TypeError` or `RangeError`
 * naming it, before anything is sent) or when `signal` aborts.
 *
 * @example
 * import { deliver, samplePostback } from "@org/postback-sender"
 *
 * const report = await deliver(
 *   samplePostback(),
 *   { method: "POST", url: "http://127.0.0.1:8080/postbacks?secret=s3cret" },
 *   { timeScale: 0.01 } // MomentScience's retries, 100 times faster
 * )
 * report.delivered            // true when an attempt got 200
 * report.attempts.map((a) => a.status ?? a.error)
 */
export const deliver = (
  postback: Postback,
  endpoint: Endpoint,
  options?: DeliverOptions & RunOptions
): Promise<DeliveryReport> =>
  rejecting(() => {
    const { options: o, signal } = splitSignal(options, "deliver", DELIVER_OPTIONS)
    return build(endpoint, o, "deliver").deliver(
      postback,
      signal === undefined ? undefined : { signal }
    )
  })

/**
 * {@link deliver} as an Effect that never fails (failures are in the
 * report). It waits on the Effect clock, so under `TestClock` each retry
 * waits for `TestClock.adjust`. Throws at once for a bad option, endpoint
 * or postback.
 *
 * @example
 * import { deliverEffect, samplePostback } from "@org/postback-sender"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const program = Effect.gen(function* () {
 *   const fiber = yield* Effect.forkChild(deliverEffect(samplePostback(), { method: "POST", url }))
 *   yield* TestClock.adjust("60 seconds") // the first retry is due
 *   // ...
 * })
 */
export const deliverEffect = (
  postback: Postback,
  endpoint: Endpoint,
  options?: DeliverOptions
): Effect.Effect<DeliveryReport> =>
  build(
    endpoint,
    optionsRecord(options, "deliverEffect", DELIVER_OPTIONS),
    "deliverEffect"
  ).deliverEffect(postback)

/**
 * The request {@link deliver} would send for a postback, without sending it.
 *
 * @example
 * requestFor(postback, { method: "POST", url: "https://pub.example/pb" }).body
 * // {"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.10",...}
 */
export const requestFor = (
  postback: Postback,
  endpoint: Endpoint,
  options?: Pick<SendOptions, "headers">
): OutgoingRequest => {
  const o = optionsRecord(options, "requestFor", ["headers"])
  return build(endpoint, o, "requestFor").request(postback)
}
