import { type DeliveryState, isSuccess, isTerminal, type Outcome } from "@org/postback-retry"
import { Cause, Clock, Effect, Exit, Schedule } from "effect"
import type { AttemptReport, DeliveryReport } from "../DeliveryReport.ts"
import type { OutgoingRequest } from "../Endpoint.ts"
import { type Exchanged, exchange } from "./exchange.ts"
import type { ResolvedDeliver } from "./options.ts"

const outcomeOf = (x: Exchanged): Outcome => {
  switch (x._tag) {
    case "response":
      return { _tag: "response", status: x.status }
    case "timeout":
      return { _tag: "timeout" }
    case "connectionError":
      return { _tag: "connectionError", reason: x.reason }
  }
}

/** The text of an attempt that got no answer. */
export const errorText = (x: Exchanged, timeoutMs: number): string | undefined => {
  switch (x._tag) {
    case "response":
      return undefined
    case "timeout":
      return `timeout after ${timeoutMs} ms`
    case "connectionError":
      return `connection error (${x.reason})`
  }
}

const attemptReport = (
  attempt: number,
  at: number,
  x: Exchanged,
  settings: ResolvedDeliver
): AttemptReport => {
  const outcome = outcomeOf(x)
  const common = {
    attempt,
    at: new Date(at),
    latencyMs: x.latencyMs,
    outcome,
    success: isSuccess(settings.policy, outcome)
  }
  return x._tag === "response"
    ? { ...common, status: x.status, body: x.body, bodyTruncated: x.bodyTruncated }
    : { ...common, error: errorText(x, settings.exchange.timeoutMs)! }
}

/**
 * Delivers one prepared request under the policy: the attempt is repeated
 * by `schedule(policy)` of `@org/postback-retry`, which steps the retry
 * state machine on the Effect clock (so `TestClock` drives it in tests).
 * Failures are data in the report, never errors of the effect.
 */
export const deliveryEffect = (
  request: OutgoingRequest,
  settings: ResolvedDeliver
): Effect.Effect<DeliveryReport> =>
  Effect.suspend(() => {
    const attempts: Array<AttemptReport> = []
    let last: AttemptReport | undefined
    const attempt = Effect.flatMap(Clock.currentTimeMillis, (at) =>
      Effect.map(exchange(request, settings.exchange), (x) => {
        last = attemptReport(attempts.length + 1, at, x, settings)
        return last.outcome
      })
    )
    const record = (state: DeliveryState): void => {
      let report = last!
      if (state._tag === "retrying") report = { ...report, nextAttemptAt: state.nextAt }
      attempts.push(report)
      settings.onAttempt?.(report)
    }
    // The schedule's output is the state after each attempt that is to be
    // retried; recording the attempt here, before the schedule sleeps, gives
    // it its next due time. The last attempt ends the schedule instead, and
    // is recorded when the repetition returns the final state.
    const policy = Schedule.tap(settings.schedule, ({ output }) =>
      Effect.sync(() => record(output))
    )
    return Effect.gen(function* () {
      const startedAt = yield* Clock.currentTimeMillis
      const state = yield* Effect.repeat(attempt, policy)
      if (!isTerminal(state)) {
        return yield* Effect.die(new Error(`unexpected final state ${state._tag}`))
      }
      yield* Effect.sync(() => record(state))
      const finishedAt = yield* Clock.currentTimeMillis
      return {
        request,
        delivered: state._tag === "delivered",
        state,
        attempts,
        startedAt: new Date(startedAt),
        finishedAt: new Date(finishedAt)
      }
    })
  })

/**
 * Runs an effect for the plain API: resolves with its value, rejects with
 * its error itself (not a wrapper), or with the signal's reason when aborted.
 */
export const runPlain = <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal): Promise<A> =>
  Effect.runPromiseExit(effect, signal === undefined ? undefined : { signal }).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    if (signal?.aborted && Cause.hasInterruptsOnly(exit.cause)) throw signal.reason
    throw Cause.squash(exit.cause)
  })
