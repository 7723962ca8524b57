import type { Postback } from "@org/postback-schema"
import { Clock, Duration, Effect, FiberSet, type Scope } from "effect"
import type { Endpoint } from "./Endpoint.ts"
import {
  functionOption,
  MAX_TIMER_MILLIS,
  optionsRecord,
  positiveNumber,
  show,
  wholeNumber
} from "./internal/checks.ts"
import { runPlain } from "./internal/deliver.ts"
import { compileEndpoint } from "./internal/endpoint.ts"
import { liveClock } from "./internal/exchange.ts"
import { loadPostbacks } from "./internal/generate.ts"
import { LoadRun, type RunClock } from "./internal/loadRun.ts"
import { resolveSend } from "./internal/options.ts"
import { type LatencyStats, latencyStats } from "./Latency.ts"
import type { FetchLike } from "./Sender.ts"

/** Options of a load run ({@link runLoad}). */
export interface LoadOptions {
  /** Requests started per second, whatever the answers (an open model). */
  readonly rate: number
  /** How long requests are started for, in seconds: `floor(rate × durationSeconds)` requests are planned. */
  readonly durationSeconds: number
  /**
   * The share of requests, from 0 (default) to below 1, that re-send a
   * postback already sent in this run, as MomentScience's retries do.
   * Spread evenly: exactly `floor(planned × duplicates)` of them.
   */
  readonly duplicates?: number
  /**
   * At most this many requests in flight (default 100). When all are busy,
   * due requests wait and are sent late; `maxLagMs` shows it.
   */
  readonly concurrency?: number
  /** Per-request time limit in milliseconds (default 10 000); a timeout is an error. */
  readonly timeoutMs?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly fetch?: FetchLike
  /** Seeds the choice of which earlier postback a duplicate re-sends (default 1). */
  readonly seed?: number
  /** Distinct `user_id` values in generated postbacks (default 1000). */
  readonly users?: number
  /** The `index`-th distinct postback (0, 1, 2, ...), instead of the generated ones. */
  readonly postback?: (index: number) => Postback
  /** Called every `progressIntervalMs` (default 1000) while the run lasts, counting every request due by then. */
  readonly onProgress?: (progress: LoadProgress) => void
  readonly progressIntervalMs?: number
  /** Aborting stops starting requests; those in flight finish, and the summary says `stopped`. */
  readonly signal?: AbortSignal
}

/** Counts so far, for progress output. */
export interface LoadProgress {
  readonly elapsedMs: number
  readonly planned: number
  readonly sent: number
  readonly completed: number
  readonly ok: number
  readonly non200: number
  readonly errors: number
  readonly inFlight: number
}

/** What a load run did. */
export interface LoadSummary {
  /** Requests the rate and duration asked for. */
  readonly planned: number
  /** Requests started (fewer than planned only when stopped). */
  readonly sent: number
  /** Of `sent`, re-sends of an earlier postback. */
  readonly duplicates: number
  /** Of `sent`, distinct postbacks. */
  readonly unique: number
  /** Requests answered `200`. */
  readonly ok: number
  /** Requests answered with another status. */
  readonly non200: number
  /** Count of each status answered, `200` included: `{ "200": 998, "503": 2 }`. */
  readonly statuses: Readonly<Record<string, number>>
  /** Requests without an answer: `timeouts + connectionErrors`. */
  readonly errors: number
  readonly timeouts: number
  readonly connectionErrors: number
  /** Count of each connection error cause (`ECONNREFUSED`, ...). */
  readonly errorReasons: Readonly<Record<string, number>>
  /** Latencies of the answered requests (any status), exactly; absent when none was answered. */
  readonly latency?: LatencyStats
  readonly targetRate: number
  /** Requests started per second, first to last start. */
  readonly achievedRate: number
  /** The latest a request was started after its due time, in milliseconds. */
  readonly maxLagMs: number
  /** From the first request to the last answer. */
  readonly elapsedMs: number
  /** Whether the run was stopped (by its `signal`) before every planned request was sent. */
  readonly stopped: boolean
}

const LOAD_OPTIONS: ReadonlyArray<string> = [
  "rate",
  "durationSeconds",
  "duplicates",
  "concurrency",
  "timeoutMs",
  "headers",
  "fetch",
  "seed",
  "users",
  "postback",
  "onProgress",
  "progressIntervalMs",
  "signal"
]

/** At most this many planned requests: the latencies are kept, 8 bytes each. */
const MAX_PLANNED = 10_000_000

interface Plan {
  readonly rate: number
  readonly planned: number
  readonly duplicates: number
  readonly concurrency: number
  readonly seed: number
  readonly users: number
  readonly postback: ((index: number) => Postback) | undefined
  readonly onProgress: ((progress: LoadProgress) => void) | undefined
  readonly progressIntervalMs: number
  readonly signal: AbortSignal | undefined
}

const resolvePlan = (options: unknown, where: string) => {
  if (options === undefined) {
    throw new TypeError(`${where}: options { rate, durationSeconds } are required`)
  }
  const o = optionsRecord(options, where, LOAD_OPTIONS)
  const rate = positiveNumber(o.rate, `${where}: rate`, 1_000_000)
  const durationSeconds = positiveNumber(o.durationSeconds, `${where}: durationSeconds`)
  const planned = Math.floor(rate * durationSeconds + 1e-9)
  if (planned < 1 || planned > MAX_PLANNED) {
    throw new RangeError(
      `${where}: rate × durationSeconds must plan from 1 to ${MAX_PLANNED} requests, got ${rate} × ${durationSeconds} = ${planned}`
    )
  }
  const duplicates = o.duplicates ?? 0
  if (
    typeof duplicates !== "number" ||
    !Number.isFinite(duplicates) ||
    duplicates < 0 ||
    duplicates >= 1
  ) {
    throw new RangeError(
      `${where}: duplicates must be a share from 0 to below 1 (0.1 for 10%), got ${show(duplicates)}`
    )
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${show(o.signal)}`)
  }
  const plan: Plan = {
    rate,
    planned,
    duplicates,
    concurrency:
      o.concurrency === undefined
        ? 100
        : wholeNumber(o.concurrency, `${where}: concurrency`, 1, 100_000),
    seed: o.seed === undefined ? 1 : wholeNumber(o.seed, `${where}: seed`, 0, 2 ** 32 - 1),
    users: o.users === undefined ? 1000 : wholeNumber(o.users, `${where}: users`, 1, 2 ** 32),
    postback:
      o.postback === undefined
        ? undefined
        : functionOption<(index: number) => Postback>(o.postback, `${where}: postback`),
    onProgress:
      o.onProgress === undefined
        ? undefined
        : functionOption<(progress: LoadProgress) => void>(o.onProgress, `${where}: onProgress`),
    progressIntervalMs:
      o.progressIntervalMs === undefined
        ? 1000
        : wholeNumber(o.progressIntervalMs, `${where}: progressIntervalMs`, 10, MAX_TIMER_MILLIS),
    signal: o.signal as AbortSignal | undefined
  }
  const send = resolveSend({ ...o, maxResponseChars: 0 }, where)
  return { plan, send }
}

/** Native timers and `performance.now()`: on Effect's live clock they measure the same time. */
const nativeClock: RunClock = {
  now: () => performance.now(),
  schedule: (ms, task) => {
    // A longer delay would fire at once; woken early, the run sets the timer again.
    const timer = setTimeout(task, Math.min(ms, MAX_TIMER_MILLIS))
    return () => clearTimeout(timer)
  }
}

/** Any other clock (a `TestClock`): its time, and its sleeps in fibers of the run's scope. */
const effectClock = (clock: Clock.Clock): Effect.Effect<RunClock, never, Scope.Scope> =>
  Effect.map(FiberSet.makeRuntime<never>(), (run) => {
    const origin = clock.monotonicTimeNanosUnsafe()
    return {
      now: () => Number(clock.monotonicTimeNanosUnsafe() - origin) / 1e6,
      schedule: (ms, task) => {
        const fiber = run(Effect.andThen(clock.sleep(Duration.millis(ms)), Effect.sync(task)))
        return () => fiber.interruptUnsafe()
      }
    }
  })

/**
 * A load run as an Effect, on the Effect clock (a `TestClock` drives its
 * schedule in tests). Throws at once for a bad option or endpoint; the
 * effect itself never fails.
 */
export const loadEffect = (endpoint: Endpoint, options: LoadOptions): Effect.Effect<LoadSummary> =>
  loadWith(endpoint, options, "loadEffect")

const loadWith = (
  endpoint: Endpoint,
  options: LoadOptions,
  where: string
): Effect.Effect<LoadSummary> => {
  const { plan, send } = resolvePlan(options, where)
  const compiled = compileEndpoint(endpoint, send.headers, where)
  return Effect.scoped(
    Effect.gen(function* () {
      const clock = yield* Clock.clockWith(Effect.succeed)
      const runClock = clock === liveClock ? nativeClock : yield* effectClock(clock)
      const { planned, rate } = plan
      const startMs = yield* Clock.currentTimeMillis
      const nextPostback =
        plan.postback ?? loadPostbacks(startMs.toString(36), startMs, rate, plan.users)
      const run = new LoadRun(
        {
          rate,
          planned,
          duplicates: plan.duplicates,
          concurrency: plan.concurrency,
          seed: plan.seed,
          timeoutMs: send.exchange.timeoutMs
        },
        (unique) => compiled.request(nextPostback(unique)),
        send.exchange,
        runClock
      )

      if (plan.onProgress !== undefined) {
        const onProgress = plan.onProgress
        // Once per interval, off the requests' path: a few counters. The run
        // first starts what is due (its timer for this very instant may not
        // have fired yet), and the yield lets the answers already in be
        // counted, so a snapshot at time T counts every request due by T.
        const catchUp = Effect.andThen(
          Effect.sync(() => run.catchUp()),
          Effect.yieldNow
        )
        const report = Effect.sync(() =>
          onProgress({
            elapsedMs: run.elapsedMs(),
            planned,
            sent: run.sent,
            completed: run.completed,
            ok: run.ok,
            non200: run.non200,
            errors: run.timeouts + run.connectionErrors,
            inFlight: run.inFlightCount
          })
        )
        yield* Effect.forkScoped(
          Effect.forever(
            Effect.sleep(plan.progressIntervalMs).pipe(
              Effect.andThen(catchUp),
              Effect.andThen(report)
            )
          )
        )
      }

      const signal = plan.signal
      if (signal !== undefined) {
        const onAbort = () => run.stop()
        yield* Effect.acquireRelease(
          Effect.sync(() => signal.addEventListener("abort", onAbort, { once: true })),
          () => Effect.sync(() => signal.removeEventListener("abort", onAbort))
        )
        if (signal.aborted) run.stop()
      }
      yield* Effect.callback<void>((resume) => {
        run.start((error) => resume(error === undefined ? Effect.void : Effect.die(error)))
        return Effect.sync(() => run.cancel())
      })

      const statusCounts: Record<string, number> = {}
      for (const [status, count] of [...run.statuses].sort((a, b) => a[0] - b[0])) {
        statusCounts[String(status)] = count
      }
      const { sent } = run
      const latency = latencyStats(run.latencies.subarray(0, run.answered))
      const summary: LoadSummary = {
        planned,
        sent,
        duplicates: run.duplicates,
        unique: run.unique,
        ok: run.ok,
        non200: run.non200,
        statuses: statusCounts,
        errors: run.timeouts + run.connectionErrors,
        timeouts: run.timeouts,
        connectionErrors: run.connectionErrors,
        errorReasons: Object.fromEntries(run.reasons),
        ...(latency === undefined ? {} : { latency }),
        targetRate: rate,
        // Starts per second between the first and the last start; a single
        // request (or all at one instant) was on schedule by definition.
        achievedRate: sent > 1 && run.lastSentMs > 0 ? ((sent - 1) * 1000) / run.lastSentMs : rate,
        maxLagMs: run.maxLagMs,
        elapsedMs: run.lastDoneMs,
        stopped: sent < planned
      }
      return summary
    })
  )
}

/**
 * Generates load against an endpoint: `rate` requests a second for
 * `durationSeconds`, started on schedule whatever the answers (an open
 * model, like real traffic), at most `concurrency` in flight, a share of
 * them re-sending earlier postbacks (`duplicates`, as retries do), the rest
 * distinct postbacks. Resolves with the {@link LoadSummary}: counts by
 * status, errors, exact latency percentiles. Throws (rejects) at once for a
 * bad option or endpoint, naming it.
 *
 * @example
 * import { runLoad } from "@org/postback-sender"
 *
 * const summary = await runLoad(
 *   { method: "POST", url: "http://127.0.0.1:8080/postbacks?secret=s3cret" },
 *   { rate: 500, durationSeconds: 30, duplicates: 0.1, concurrency: 64 }
 * )
 * summary.ok, summary.non200, summary.errors, summary.latency?.p99
 */
export const runLoad = (endpoint: Endpoint, options: LoadOptions): Promise<LoadSummary> => {
  try {
    return runPlain(loadWith(endpoint, options, "runLoad"))
  } catch (error) {
    return Promise.reject(error)
  }
}
