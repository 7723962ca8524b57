import type { Delivered, Failed, Outcome } from "@org/postback-retry"
import type { OutgoingRequest } from "./Endpoint.ts"

/** One attempt of a delivery, as the sender saw it. */
export interface AttemptReport {
  /** 1 for the first attempt. */
  readonly attempt: number
  /** When the attempt started, on the delivery's clock. */
  readonly at: Date
  /** From sending the request to the end of the response body (or the failure), in milliseconds. */
  readonly latencyMs: number
  /** What the attempt got, as `@org/postback-retry` models it. */
  readonly outcome: Outcome
  /** Whether the policy counts the outcome as delivered (MomentScience: exactly `200`). */
  readonly success: boolean
  /** The HTTP status, when there was an answer. */
  readonly status?: number
  /** The response body (cut at `maxResponseChars`), when there was an answer. */
  readonly body?: string
  /** Whether `body` was cut. */
  readonly bodyTruncated?: boolean
  /** Why there was no answer: `"timeout after 10000 ms"`, `"connection error (ECONNREFUSED)"`. */
  readonly error?: string
  /** When the next attempt is due, if the attempt failed and the policy allows another. */
  readonly nextAttemptAt?: Date
}

/** What happened to one postback: the request, every attempt and the final state. */
export interface DeliveryReport {
  /** What was sent, identical on every attempt (retries re-send the same postback). */
  readonly request: OutgoingRequest
  /** `state._tag === "delivered"`. */
  readonly delivered: boolean
  /** The retry machine's final state: `delivered { attempt, at }` or `failed { attempts, lastOutcome, at }`. */
  readonly state: Delivered | Failed
  readonly attempts: ReadonlyArray<AttemptReport>
  readonly startedAt: Date
  readonly finishedAt: Date
}
