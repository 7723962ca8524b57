import {
  type DeliveryState,
  momentScience,
  type RetryPolicy,
  retryPolicy,
  scaled,
  schedule
} from "@org/postback-retry"
import type { Schedule } from "effect"
import type { AttemptReport } from "../DeliveryReport.ts"
import {
  functionOption,
  MAX_TIMER_MILLIS,
  optionsRecord,
  positiveNumber,
  show,
  wholeNumber
} from "./checks.ts"
import type { ExchangeSettings, FetchLike } from "./exchange.ts"

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_RESPONSE_CHARS = 8192

export const SEND_OPTIONS: ReadonlyArray<string> = [
  "timeoutMs",
  "headers",
  "fetch",
  "maxResponseChars"
]
export const DELIVER_OPTIONS: ReadonlyArray<string> = [
  ...SEND_OPTIONS,
  "policy",
  "timeScale",
  "onAttempt"
]

export interface ResolvedSend {
  readonly exchange: ExchangeSettings
  readonly headers: Readonly<Record<string, string>>
}

export interface ResolvedDeliver extends ResolvedSend {
  readonly policy: RetryPolicy
  readonly schedule: Schedule.Schedule<DeliveryState, unknown>
  readonly onAttempt: ((attempt: AttemptReport) => void) | undefined
}

const globalFetch: FetchLike = (url, init) => fetch(url, init)

export const resolveHeaders = (
  value: unknown,
  option: string
): Readonly<Record<string, string>> => {
  if (value === undefined) return {}
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${option} must be a record of header names to values, got ${show(value)}`)
  }
  const out: Record<string, string> = {}
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw new TypeError(`${option}[${JSON.stringify(name)}] must be a string, got ${show(v)}`)
    }
    try {
      new Headers([[name, v]])
    } catch {
      throw new TypeError(
        `${option}[${JSON.stringify(name)}] is not a valid HTTP header (name or value), got ${show(v)}`
      )
    }
    out[name.toLowerCase()] = v
  }
  return out
}

export const resolveSend = (o: Readonly<Record<string, unknown>>, where: string): ResolvedSend => {
  const fetchFn =
    o.fetch === undefined ? globalFetch : functionOption<FetchLike>(o.fetch, `${where}: fetch`)
  return {
    exchange: {
      fetch: fetchFn,
      timeoutMs:
        o.timeoutMs === undefined
          ? DEFAULT_TIMEOUT_MS
          : wholeNumber(
              o.timeoutMs,
              `${where}: timeoutMs`,
              1,
              MAX_TIMER_MILLIS,
              " of milliseconds"
            ),
      maxResponseChars:
        o.maxResponseChars === undefined
          ? DEFAULT_MAX_RESPONSE_CHARS
          : wholeNumber(o.maxResponseChars, `${where}: maxResponseChars`, 0, 2 ** 30)
    },
    headers: resolveHeaders(o.headers, `${where}: headers`)
  }
}

export const resolveDeliver = (
  o: Readonly<Record<string, unknown>>,
  where: string
): ResolvedDeliver => {
  const send = resolveSend(o, where)
  let policy: RetryPolicy
  try {
    policy = o.policy === undefined ? momentScience : retryPolicy(o.policy as RetryPolicy)
  } catch (error) {
    throw new TypeError(
      `${where}: policy is not a valid retry policy: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    )
  }
  if (o.timeScale !== undefined) {
    const factor = positiveNumber(o.timeScale, `${where}: timeScale`)
    if (factor !== 1) policy = scaled(policy, factor)
  }
  const onAttempt =
    o.onAttempt === undefined
      ? undefined
      : functionOption<(attempt: AttemptReport) => void>(o.onAttempt, `${where}: onAttempt`)
  return { ...send, policy, schedule: schedule(policy), onAttempt }
}

/** Splits `signal` (plain API only) from the other options. */
export const splitSignal = (
  options: unknown,
  where: string,
  known: ReadonlyArray<string>
): { readonly options: Readonly<Record<string, unknown>>; readonly signal?: AbortSignal } => {
  const o = optionsRecord(options, where, [...known, "signal"])
  if (o.signal === undefined) return { options: o }
  if (!(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${show(o.signal)}`)
  }
  const { signal, ...rest } = o
  return { options: rest, signal: signal as AbortSignal }
}
