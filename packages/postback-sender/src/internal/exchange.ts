import { Clock, Context, Duration, Effect, Result } from "effect"
import type { OutgoingRequest } from "../Endpoint.ts"

/** The shape of `fetch` the sender calls: the global one, or a stub. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

/** What one HTTP exchange gave; never an exception. */
export type Exchanged =
  | {
      readonly _tag: "response"
      readonly status: number
      readonly body: string
      readonly bodyTruncated: boolean
      readonly latencyMs: number
    }
  | { readonly _tag: "timeout"; readonly latencyMs: number }
  | { readonly _tag: "connectionError"; readonly reason: string; readonly latencyMs: number }

export interface ExchangeSettings {
  readonly fetch: FetchLike
  readonly timeoutMs: number
  /** Characters of the response body kept; 0 reads and drops the body (load runs). */
  readonly maxResponseChars: number
}

/** A response read to its end. */
export interface Answer {
  readonly status: number
  readonly body: string
  readonly bodyTruncated: boolean
}

type Failure = { readonly _tag: "timeout" } | { readonly _tag: "connectionError"; reason: string }

const TIMED_OUT: Failure = { _tag: "timeout" }

/**
 * A short cause for a failed fetch. Node's fetch (undici) rejects with
 * `TypeError("fetch failed")` and the system error in `cause` (`code`:
 * `ECONNREFUSED`); Deno puts the cause in the message.
 */
export const reasonOf = (error: unknown): string => {
  if (error instanceof Error) {
    const cause: unknown = error.cause
    if (typeof cause === "object" && cause !== null) {
      if ("code" in cause && typeof cause.code === "string" && cause.code !== "") return cause.code
      if (cause instanceof Error && cause.message !== "") return cause.message
    }
    return error.message === "" ? error.name : error.message
  }
  return String(error)
}

/**
 * Sends a request and reads the response body to its end (so that the
 * connection can be reused), keeping at most `maxResponseChars` of it.
 * Rejects when the fetch does (no answer, or `signal` aborted).
 */
export const fetchAnswer = async (
  request: OutgoingRequest,
  settings: ExchangeSettings,
  signal: AbortSignal
): Promise<Answer> => {
  const init: RequestInit =
    request.body === undefined
      ? { method: request.method, headers: request.headers, signal, redirect: "manual" }
      : {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal,
          redirect: "manual"
        }
  const response = await settings.fetch(request.url, init)
  const max = settings.maxResponseChars
  // The body is always read to its end, so that the connection can be reused.
  if (max === 0) {
    await response.arrayBuffer()
    return { status: response.status, body: "", bodyTruncated: false }
  }
  const text = await response.text()
  return text.length > max
    ? { status: response.status, body: text.slice(0, max), bodyTruncated: true }
    : { status: response.status, body: text, bodyTruncated: false }
}

// Microsecond resolution is plenty, and keeps reports readable.
const elapsedMs = (from: bigint, to: bigint): number => Math.round(Number(to - from) / 1e3) / 1e3

/** A duration in milliseconds rounded to the microsecond, as {@link Exchanged} latencies are. */
export const roundedMs = (ms: number): number => Math.round(ms * 1e3) / 1e3

/** The exchange an answer makes: a response, or an unusable one (a browser's opaque redirect). */
export const classify = (answer: Answer, latencyMs: number): Exchanged => {
  if (!Number.isInteger(answer.status) || answer.status < 100 || answer.status > 599) {
    // A browser's opaque redirect (status 0): no usable answer.
    return {
      _tag: "connectionError",
      reason: `unusable response (status ${answer.status})`,
      latencyMs
    }
  }
  return { _tag: "response", ...answer, latencyMs }
}

/** Any clock: the time limit is a clock sleep raced against the fetch (a TestClock drives it). */
const onAnyClock = (
  request: OutgoingRequest,
  settings: ExchangeSettings
): Effect.Effect<Exchanged> => {
  const call = Effect.tryPromise({
    try: (signal) => fetchAnswer(request, settings, signal),
    catch: (error): Failure => ({ _tag: "connectionError", reason: reasonOf(error) })
  }).pipe(
    Effect.timeoutOrElse({
      duration: Duration.millis(settings.timeoutMs),
      orElse: () => Effect.fail(TIMED_OUT)
    }),
    Effect.result
  )
  return Effect.flatMap(Clock.monotonicTimeNanos, (began) =>
    Effect.flatMap(call, (result) =>
      Effect.map(Clock.monotonicTimeNanos, (ended): Exchanged => {
        const latencyMs = elapsedMs(began, ended)
        if (Result.isSuccess(result)) return classify(result.success, latencyMs)
        const failure = result.failure
        return failure._tag === "timeout"
          ? { _tag: "timeout", latencyMs }
          : { _tag: "connectionError", reason: failure.reason, latencyMs }
      })
    )
  )
}

/**
 * The live clock: the same exchange with a native timer in one async step.
 * `Effect.timeoutOrElse` races the fetch against a sleep in two forked
 * fibers per request; one callback with a timer costs much less, which is
 * what lets the load generator keep up with a fast receiver.
 */
const onLiveClock = (
  request: OutgoingRequest,
  settings: ExchangeSettings,
  clock: Clock.Clock
): Effect.Effect<Exchanged> =>
  Effect.callback<Exchanged>((resume) => {
    const controller = new AbortController()
    const began = clock.monotonicTimeNanosUnsafe()
    const latency = () => elapsedMs(began, clock.monotonicTimeNanosUnsafe())
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      controller.abort()
      resume(Effect.succeed({ _tag: "timeout", latencyMs: latency() }))
    }, settings.timeoutMs)
    fetchAnswer(request, settings, controller.signal).then(
      (answer) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(Effect.succeed(classify(answer, latency())))
      },
      (error: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(
          Effect.succeed({ _tag: "connectionError", reason: reasonOf(error), latencyMs: latency() })
        )
      }
    )
    return Effect.sync(() => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      controller.abort()
    })
  })

/**
 * Effect's own clock, the one a fiber reads when no other `Clock` was
 * provided: when it is in use, native timers and `performance.now()`
 * measure the same time.
 */
export const liveClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/**
 * One HTTP exchange, timed on the Effect clock: the request, the status and
 * the body read to its end, within `timeoutMs` (interrupting it aborts the
 * fetch). Redirects are not followed: MomentScience counts only `200` as
 * delivered, so a `3xx` is reported as it is.
 */
export const exchange = (
  request: OutgoingRequest,
  settings: ExchangeSettings
): Effect.Effect<Exchanged> =>
  Clock.clockWith((clock) =>
    clock === liveClock ? onLiveClock(request, settings, clock) : onAnyClock(request, settings)
  )
