import { Webhook } from "standardwebhooks"

/** The Standard Webhooks headers of one delivery attempt. */
export interface SignedHeaders {
  readonly "webhook-id": string
  /** Unix time in seconds of this attempt (a retry is signed anew). */
  readonly "webhook-timestamp": string
  /** `v1,<base64>` per secret, space-separated (two during a rotation's overlap). */
  readonly "webhook-signature": string
}

/**
 * Signs `body` for `webhook-id` at `at` with every secret given (the current
 * one first, then the previous one during a rotation), with the
 * `standardwebhooks` library: a consumer holding either secret verifies it,
 * as the specification allows several space-separated signatures.
 */
export const signEvent = (
  secrets: ReadonlyArray<string>,
  id: string,
  at: Date,
  body: string
): SignedHeaders => ({
  "webhook-id": id,
  "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
  "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(" ")
})
