/**
 * Consume the events a receiver forwards (its "Forwarding": settled
 * postbacks signed per Standard Webhooks): verify the signature with Web
 * Crypto and decode the body, in any runtime with `fetch` types (Node 22,
 * Deno, Bun, edge workers).
 *
 * @example
 * import { verifyForwardedRequest } from "@org/postback-handler/events"
 *
 * const { webhookId, event } = await verifyForwardedRequest(secret, request) // throws when forged
 * if (await firstTime(webhookId)) await credit(event.data.userId, BigInt(event.data.points))
 *
 * @module
 */

/** The body of a forwarded event (see the receiver's README, "Forwarding"). */
export interface ForwardedEvent {
  /** `postback.credited`, `postback.recorded`, `postback.unattributed`, `postback.reversed`, ... */
  readonly type: string
  /** When the event was written (ISO 8601). */
  readonly timestamp: string
  readonly data: {
    readonly postbackId: number
    readonly status: string
    readonly offerId: string
    readonly advertiserName: string
    /** USD, exact decimal text. */
    readonly payout: string
    readonly isLoyaltyBoost: boolean
    readonly userId: string | null
    /** The ledger change as a decimal integer string (negative for a reversal); never a float. */
    readonly points: string
    readonly payload: Readonly<Record<string, string>>
    readonly explanation: unknown
    readonly occurredAt: string
    readonly receivedAt: string
    readonly settledAt: string
    readonly test: boolean
  }
}

/** Why a forwarded event was refused: `reason` names the header or field. */
export class ForwardedEventError extends Error {
  override readonly name = "ForwardedEventError"
  constructor(
    /** `webhook-id`, `webhook-timestamp`, `webhook-signature`, `secret`, `body` or `data.<field>`. */
    readonly reason: string,
    message: string
  ) {
    super(`${reason}: ${message}`)
  }
}

/** Options of {@link verifyForwardedEvent}. */
export interface VerifyOptions {
  /** Largest distance in seconds between the signature's time and now; default 300 (the specification's). */
  readonly toleranceSeconds?: number
  /** The current time; default `new Date()`. */
  readonly now?: Date
}

const header = (headers: Headers | Readonly<Record<string, string>>, name: string) => {
  const value =
    headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()])
  if (value === null || value === undefined || value === "") {
    throw new ForwardedEventError(name, "missing")
  }
  return value
}

const fromBase64 = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(text), (char) => char.charCodeAt(0))

const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes))

const equal = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

const DECIMAL = /^-?\d+(\.\d+)?$/

const decode = (body: string): ForwardedEvent => {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    throw new ForwardedEventError("body", "is not JSON")
  }
  const event = json as { type?: unknown; timestamp?: unknown; data?: Record<string, unknown> }
  if (typeof event.type !== "string") throw new ForwardedEventError("type", "must be a string")
  if (typeof event.data !== "object" || event.data === null) {
    throw new ForwardedEventError("data", "must be an object")
  }
  for (const field of ["payout", "points"] as const) {
    const value = event.data[field]
    if (typeof value !== "string" || !DECIMAL.test(value)) {
      throw new ForwardedEventError(`data.${field}`, "must be a decimal string")
    }
  }
  if (typeof event.data.postbackId !== "number") {
    throw new ForwardedEventError("data.postbackId", "must be a number")
  }
  return json as ForwardedEvent
}

/**
 * Verifies a forwarded event's Standard Webhooks signature (HMAC-SHA256 of
 * `id.timestamp.body` with the `whsec_` secret; any of the space-separated
 * `v1,` signatures may match, as during a secret rotation) and its time
 * (within `toleranceSeconds`), then decodes the body. Deduplicate on the
 * returned `webhookId`: a retry or a replay carries the same one.
 *
 * @throws {ForwardedEventError} naming the header or field that is wrong
 */
export const verifyForwardedEvent = async (
  secret: string,
  body: string,
  headers: Headers | Readonly<Record<string, string>>,
  options: VerifyOptions = {}
): Promise<{ readonly webhookId: string; readonly event: ForwardedEvent }> => {
  if (!secret.startsWith("whsec_")) throw new ForwardedEventError("secret", 'must start "whsec_"')
  const id = header(headers, "webhook-id")
  const timestamp = header(headers, "webhook-timestamp")
  const signatures = header(headers, "webhook-signature")
  const seconds = Number(timestamp)
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) {
    throw new ForwardedEventError("webhook-timestamp", "must be Unix seconds")
  }
  const now = (options.now ?? new Date()).getTime() / 1000
  if (Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) {
    throw new ForwardedEventError("webhook-timestamp", "too far from now (a replayed request?)")
  }
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.slice("whsec_".length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"]
  )
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`))
  )
  const expected = toBase64(mac)
  const match = signatures
    .split(" ")
    .some((signature) => signature.startsWith("v1,") && equal(signature.slice(3), expected))
  if (!match) throw new ForwardedEventError("webhook-signature", "does not match")
  return { webhookId: id, event: decode(body) }
}

/** {@link verifyForwardedEvent} of a Web `Request` (reads its body as text). */
export const verifyForwardedRequest = async (
  secret: string,
  request: Request,
  options?: VerifyOptions
): Promise<{ readonly webhookId: string; readonly event: ForwardedEvent }> =>
  verifyForwardedEvent(secret, await request.text(), request.headers, options)
