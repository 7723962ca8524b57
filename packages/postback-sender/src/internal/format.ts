import type { AttemptReport } from "../DeliveryReport.ts"
import type { OutgoingRequest } from "../Endpoint.ts"
import type { LatencyStats } from "../Latency.ts"
import { redactHeaders, redactUrl } from "./redact.ts"

/** Milliseconds with precision that suits their size. */
export const ms = (value: number): string =>
  value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toString()

/** A duration in seconds for people: `60 s`, `0.6 s`, `1.25 s`. */
export const seconds = (millis: number): string => {
  const s = millis / 1000
  return `${Number.isInteger(s) ? s : Number(s.toPrecision(3))} s`
}

/** Integers with thousands separators, right-aligned to `width`. */
export const count = (n: number, width = 0): string => n.toLocaleString("en-US").padStart(width)

/** The request as sent, for a person (credential-like query values hidden). */
export const requestLines = (request: OutgoingRequest): Array<string> => {
  const lines = [`${request.method} ${redactUrl(request.url)}`]
  if (request.body !== undefined) lines.push(request.body)
  return lines
}

/** `HTTP 503 in 2.10 ms` or `timeout after 10000 ms`. */
export const attemptResult = (attempt: AttemptReport): string =>
  attempt.status !== undefined
    ? `HTTP ${attempt.status} in ${ms(attempt.latencyMs)} ms`
    : (attempt.error ?? "no answer")

/** One line per attempt, as it happens. */
export const attemptLine = (attempt: AttemptReport): string => {
  let line = `attempt ${attempt.attempt} at ${attempt.at.toISOString()}: ${attemptResult(attempt)}`
  if (attempt.success) line += " (delivered)"
  else if (attempt.nextAttemptAt !== undefined) {
    const wait = attempt.nextAttemptAt.getTime() - attempt.at.getTime() - attempt.latencyMs
    line += `; next attempt in ${seconds(Math.max(0, Math.round(wait)))}`
  }
  return line
}

/** A response body on one line, cut for the terminal. */
export const bodyPreview = (body: string, truncated: boolean, max = 500): string => {
  const flat = body.replace(/\s*\n\s*/g, " ").trim()
  if (flat === "") return "(empty)"
  return flat.length > max || truncated ? `${flat.slice(0, max)}...` : flat
}

export const latencyLine = (latency: LatencyStats): string =>
  [
    `min ${ms(latency.min)}`,
    `p50 ${ms(latency.p50)}`,
    `p90 ${ms(latency.p90)}`,
    `p95 ${ms(latency.p95)}`,
    `p99 ${ms(latency.p99)}`,
    `p99.9 ${ms(latency.p999)}`,
    `max ${ms(latency.max)}`,
    `mean ${ms(latency.mean)}`
  ].join("  ")

/** JSON for `--json` output: dates as ISO text, credential-like URL and header values hidden. */
export const toJson = (value: unknown): string =>
  JSON.stringify(
    value,
    (key, v) => {
      if (key === "url" && typeof v === "string") return redactUrl(v)
      if (key === "headers" && typeof v === "object" && v !== null) return redactHeaders(v)
      return v
    },
    2
  )
