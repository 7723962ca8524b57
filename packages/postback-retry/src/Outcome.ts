import { isOutcome, isStatus, show } from "./internal/checks.ts"

/** The receiver answered with an HTTP status (any status, success or not). */
export interface ResponseOutcome {
  readonly _tag: "response"
  /** The HTTP status code, an integer from 100 to 599. */
  readonly status: number
}

/** No answer arrived within the sender's time limit. */
export interface TimeoutOutcome {
  readonly _tag: "timeout"
}

/** The request could not be delivered at all (DNS, refused, reset, TLS). */
export interface ConnectionErrorOutcome {
  readonly _tag: "connectionError"
  /** A short human-readable cause, such as `"ECONNREFUSED"`. */
  readonly reason?: string
}

/**
 * What the sender observed for one delivery attempt: an HTTP status, a
 * timeout or a connection error. Whether an outcome counts as a success is
 * decided by the policy (`RetryPolicy.successStatuses`), not here.
 */
export type Outcome = ResponseOutcome | TimeoutOutcome | ConnectionErrorOutcome

/**
 * Constructors and helpers for {@link Outcome}.
 *
 * @example
 * import { Outcome } from "@org/postback-retry"
 *
 * Outcome.response(503)                  // { _tag: "response", status: 503 }
 * Outcome.timeout()                      // { _tag: "timeout" }
 * Outcome.connectionError("ECONNREFUSED") // { _tag: "connectionError", reason: "ECONNREFUSED" }
 * Outcome.format(Outcome.response(503))  // "HTTP 503"
 */
export const Outcome: {
  /** An HTTP answer. Throws a `RangeError` unless `status` is an integer from 100 to 599. */
  readonly response: (status: number) => ResponseOutcome
  /** No answer in time. */
  readonly timeout: () => TimeoutOutcome
  /** No connection, or the connection broke before an answer. */
  readonly connectionError: (reason?: string) => ConnectionErrorOutcome
  /** Whether `u` is a well-formed outcome (a response must carry a valid status). */
  readonly isOutcome: (u: unknown) => u is Outcome
  /** A short label for logs and delivery histories: `"HTTP 503"`, `"timeout"`, `"connection error (ECONNREFUSED)"`. */
  readonly format: (outcome: Outcome) => string
} = {
  response: (status) => {
    if (!isStatus(status)) {
      throw new RangeError(
        `Outcome.response: status must be an integer HTTP status from 100 to 599, got ${show(status)}`
      )
    }
    return { _tag: "response", status }
  },
  timeout: () => ({ _tag: "timeout" }),
  connectionError: (reason) =>
    reason === undefined ? { _tag: "connectionError" } : { _tag: "connectionError", reason },
  isOutcome,
  format: (outcome) => {
    switch (outcome._tag) {
      case "response":
        return `HTTP ${outcome.status}`
      case "timeout":
        return "timeout"
      case "connectionError":
        return outcome.reason === undefined
          ? "connection error"
          : `connection error (${outcome.reason})`
    }
  }
}
