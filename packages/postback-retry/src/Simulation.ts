import type { Delivered, DeliveryState, Failed } from "./Delivery.ts"
import { assertOutcome, millisOf, show } from "./internal/checks.ts"
import { pending, transition } from "./internal/machine.ts"
import { ensurePolicy, succeeded } from "./internal/policy.ts"
import type { Outcome } from "./Outcome.ts"
import type { RandomSource, RetryPolicy } from "./RetryPolicy.ts"

/** One attempt in detail: what the sender saw, whether the receiver kept the postback, how long it took. */
export interface ExchangeDetails {
  /** What the sender observed. */
  readonly outcome: Outcome
  /**
   * Whether the receiver accepted (committed) the postback on this attempt.
   * Default: whether the policy counts `outcome` as a success. `true` with
   * a failing outcome is a 200 lost in transit; `false` with a successful
   * one is a receiver that answered 200 without keeping the postback.
   */
  readonly accepted?: boolean
  /** Seconds from the request to the sender observing `outcome` (a timeout's wait); default 0. */
  readonly durationSeconds?: number
}

/** What happens to one attempt: an outcome (accepted when it is a success), or the details. */
export type Exchange = Outcome | ExchangeDetails

/** A time window during which the receiver behaves badly. */
export interface Outage {
  /** Start, inclusive. */
  readonly from: Date
  /** End, exclusive: an attempt at `to` meets the healthy receiver. */
  readonly to: Date
  /** What attempts in the window get; default a refused connection (nothing received). */
  readonly exchange?: Exchange
}

/** Which attempt the receiver function is asked about. */
export interface AttemptContext {
  /** The postback's position in `Scenario.sends`. */
  readonly index: number
  /** When the postback was first sent. */
  readonly sentAt: Date
  /** The attempt number, from 1. */
  readonly attempt: number
}

/** A receiver as a function of time: what an attempt made at `at` gets. */
export type Receiver = (at: Date, context: AttemptContext) => Exchange

/**
 * What to simulate: postbacks first sent at `sends`, against a receiver
 * described either by `outages` (healthy outside them) or by a `receiver`
 * function, not both.
 */
export interface Scenario {
  /** When each postback is first sent (its attempt 1). */
  readonly sends: ReadonlyArray<Date>
  /** Windows of trouble; the first window containing an attempt decides it. */
  readonly outages?: ReadonlyArray<Outage>
  /** What an attempt outside every outage gets; default `HTTP 200`. */
  readonly healthy?: Exchange
  /** The receiver as a function of time, instead of `outages`. */
  readonly receiver?: Receiver
  /** Random numbers for `jitter: "full"`; default `Math.random`. */
  readonly random?: RandomSource
}

/** One attempt as it happened in the simulation. */
export interface AttemptRecord {
  readonly attempt: number
  /** When the request was made. */
  readonly at: Date
  /** When the sender observed the outcome (`at` + the exchange's duration). */
  readonly observedAt: Date
  readonly outcome: Outcome
  /** Whether the receiver accepted the postback on this attempt. */
  readonly accepted: boolean
}

/** What became of one postback. */
export interface PostbackReport {
  readonly sentAt: Date
  /** The sender's final state. */
  readonly state: Delivered | Failed
  /** The sender saw a success. */
  readonly delivered: boolean
  /** When the sender saw the success. */
  readonly deliveredAt: Date | undefined
  /** Attempts made. */
  readonly attempts: number
  /** The receiver accepted the postback at least once. */
  readonly received: boolean
  /** When the receiver first accepted it. */
  readonly receivedAt: Date | undefined
  /** The receiver never got it: the postback is lost. */
  readonly lost: boolean
  /** Acceptances after the first: copies the receiver saw because a 200 was lost in transit. */
  readonly duplicates: number
  readonly history: ReadonlyArray<AttemptRecord>
}

/** The simulation's answer, per postback and in total. */
export interface SimulationReport {
  readonly postbacks: ReadonlyArray<PostbackReport>
  /** Postbacks simulated. */
  readonly sent: number
  /** Postbacks the sender saw delivered. */
  readonly delivered: number
  /** Postbacks the sender marked failed. */
  readonly failed: number
  /** Postbacks the receiver never accepted. */
  readonly lost: number
  /** Duplicate copies the receiver accepted, in all. */
  readonly duplicates: number
}

const REFUSED: Outcome = { _tag: "connectionError", reason: "connection refused" }
const OK: Outcome = { _tag: "response", status: 200 }

interface CheckedExchange {
  readonly outcome: Outcome
  readonly accepted: boolean
  readonly durationMillis: number
}

const checkExchange = (policy: RetryPolicy, exchange: unknown, name: string): CheckedExchange => {
  if (typeof exchange === "object" && exchange !== null && "_tag" in exchange) {
    const outcome = assertOutcome(exchange, name)
    return { outcome, accepted: succeeded(policy, outcome), durationMillis: 0 }
  }
  if (typeof exchange !== "object" || exchange === null || !("outcome" in exchange)) {
    throw new TypeError(
      `${name} must be an Outcome or { outcome, accepted?, durationSeconds? }, got ${show(exchange)}`
    )
  }
  const e = exchange as ExchangeDetails
  const outcome = assertOutcome(e.outcome, `${name}.outcome`)
  if (e.accepted !== undefined && typeof e.accepted !== "boolean") {
    throw new TypeError(`${name}.accepted must be a boolean, got ${show(e.accepted)}`)
  }
  const seconds = e.durationSeconds ?? 0
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(
      `${name}.durationSeconds must be a finite number of seconds >= 0, got ${show(seconds)}`
    )
  }
  return {
    outcome,
    accepted: e.accepted ?? succeeded(policy, outcome),
    durationMillis: Math.round(seconds * 1000)
  }
}

/**
 * A 200 lost in transit: the receiver accepted the postback and answered,
 * but the sender saw `outcome` (default a timeout) after `durationSeconds`
 * (default 0). Use it as an outage's `exchange` or from a receiver function.
 */
export const lostInTransit = (
  options: { readonly outcome?: Outcome; readonly durationSeconds?: number } = {}
): ExchangeDetails => ({
  outcome: options.outcome ?? { _tag: "timeout" },
  accepted: true,
  ...(options.durationSeconds === undefined ? {} : { durationSeconds: options.durationSeconds })
})

const receiverOf = (policy: RetryPolicy, scenario: Scenario) => {
  if (scenario.receiver !== undefined) {
    if (typeof scenario.receiver !== "function") {
      throw new TypeError(
        `simulate: scenario.receiver must be a function, got ${show(scenario.receiver)}`
      )
    }
    if (scenario.outages !== undefined || scenario.healthy !== undefined) {
      throw new TypeError(
        "simulate: give scenario.receiver or scenario.outages (with healthy), not both"
      )
    }
    const receiver = scenario.receiver
    return (atMillis: number, context: AttemptContext): CheckedExchange =>
      checkExchange(
        policy,
        receiver(new Date(atMillis), context),
        `simulate: scenario.receiver(${new Date(atMillis).toISOString()})`
      )
  }
  const outages = scenario.outages ?? []
  if (!Array.isArray(outages)) {
    throw new TypeError(`simulate: scenario.outages must be an array, got ${show(outages)}`)
  }
  const windows = outages.map((outage: Outage, i) => {
    const from = millisOf(outage?.from, `simulate: scenario.outages[${i}].from`)
    const to = millisOf(outage?.to, `simulate: scenario.outages[${i}].to`)
    if (to < from) {
      throw new RangeError(
        `simulate: scenario.outages[${i}].to must not be before from (${outage.from.toISOString()}), got ${outage.to.toISOString()}`
      )
    }
    const exchange = checkExchange(
      policy,
      outage.exchange ?? REFUSED,
      `simulate: scenario.outages[${i}].exchange`
    )
    return { from, to, exchange }
  })
  const healthy = checkExchange(policy, scenario.healthy ?? OK, "simulate: scenario.healthy")
  return (atMillis: number): CheckedExchange => {
    for (const w of windows) if (atMillis >= w.from && atMillis < w.to) return w.exchange
    return healthy
  }
}

const runOne = (
  policy: RetryPolicy,
  exchangeAt: (atMillis: number, context: AttemptContext) => CheckedExchange,
  sentAt: Date,
  index: number,
  random: RandomSource
): PostbackReport => {
  const history: Array<AttemptRecord> = []
  let state: DeliveryState = pending(sentAt.getTime())
  let receivedAt: Date | undefined
  let accepted = 0
  while (state._tag === "pending" || state._tag === "retrying") {
    const attempt = state._tag === "pending" ? 1 : state.attempt
    const at = state.nextAt
    const exchange = exchangeAt(at.getTime(), { index, sentAt, attempt })
    const observedAt = at.getTime() + exchange.durationMillis
    if (exchange.accepted) {
      accepted++
      receivedAt ??= at
    }
    history.push({
      attempt,
      at,
      observedAt: new Date(observedAt),
      outcome: exchange.outcome,
      accepted: exchange.accepted
    })
    state = transition(policy, state, exchange.outcome, observedAt, random)
  }
  const delivered = state._tag === "delivered"
  return {
    sentAt,
    state,
    delivered,
    deliveredAt: delivered ? state.at : undefined,
    attempts: history.length,
    received: accepted > 0,
    receivedAt,
    lost: accepted === 0,
    duplicates: Math.max(0, accepted - 1),
    history
  }
}

/**
 * Plays `policy` against a receiver: for each postback first sent at one of
 * `scenario.sends`, the attempts the sender makes, whether and when it is
 * delivered, and how many copies the receiver accepted. Deterministic for
 * policies without jitter (and with a seeded `scenario.random`).
 *
 * Failures are immediate unless an exchange says how long it took; the
 * next attempt is due the policy's delay after the sender observed the
 * failure.
 *
 * @example
 * import { momentScience, simulate } from "@org/postback-retry"
 *
 * const t = (s: number) => new Date(Date.UTC(2025, 0, 1) + s * 1000)
 * const report = simulate(momentScience, {
 *   sends: [t(0), t(100)],
 *   outages: [{ from: t(0), to: t(500) }] // down for 500 s
 * })
 * report.postbacks.map((p) => p.lost) // [true, false]: 500 s is more than the 420 s tolerated
 */
export const simulate = (policy: RetryPolicy, scenario: Scenario): SimulationReport => {
  const p = ensurePolicy(policy, "simulate")
  if (typeof scenario !== "object" || scenario === null) {
    throw new TypeError(`simulate: scenario must be an object, got ${show(scenario)}`)
  }
  if (!Array.isArray(scenario.sends)) {
    throw new TypeError(
      `simulate: scenario.sends must be an array of Dates, got ${show(scenario.sends)}`
    )
  }
  if (scenario.random !== undefined && typeof scenario.random !== "function") {
    throw new TypeError(
      `simulate: scenario.random must be a function returning numbers from 0 to 1, got ${show(scenario.random)}`
    )
  }
  const sends = scenario.sends.map((sentAt, i) => {
    millisOf(sentAt, `simulate: scenario.sends[${i}]`)
    return new Date(sentAt.getTime())
  })
  const exchangeAt = receiverOf(p, scenario)
  const random = scenario.random ?? Math.random
  const postbacks = sends.map((sentAt, index) => runOne(p, exchangeAt, sentAt, index, random))
  let delivered = 0
  let lost = 0
  let duplicates = 0
  for (const r of postbacks) {
    if (r.delivered) delivered++
    if (r.lost) lost++
    duplicates += r.duplicates
  }
  return {
    postbacks,
    sent: postbacks.length,
    delivered,
    failed: postbacks.length - delivered,
    lost,
    duplicates
  }
}
