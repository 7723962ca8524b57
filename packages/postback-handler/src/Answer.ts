import { postbackErrorJson } from "@org/postback-schema/plain"
import type { Classification } from "./Delivery.ts"

/**
 * An HTTP answer: the status, its headers and the JSON body (`""` for none).
 * Every refusal has one JSON shape, `{ error, message }` (and `issues`, each
 * with its field's `path`, for a 400), the same as a 400 of the schema
 * package's `postbackErrorJson`.
 */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...headers
  },
  body: JSON.stringify(body)
})

/** The `error` code of each refusal. */
export const ERROR_CODES = {
  400: "invalid_postback",
  401: "unauthorized",
  405: "method_not_allowed",
  413: "payload_too_large",
  414: "uri_too_long",
  415: "unsupported_media_type",
  431: "request_header_fields_too_large",
  503: "unavailable"
} as const

/** The JSON error answer `{ error, message }` for a status of {@link ERROR_CODES}. */
export const errorAnswer = (
  status: keyof typeof ERROR_CODES,
  message: string,
  headers?: Record<string, string>
): Answer => json(status, { error: ERROR_CODES[status], message }, headers)

/** How long a sender should wait before retrying after a 503, in seconds (the sender's own schedule is 60 s). */
export const RETRY_AFTER_SECONDS = 60

/**
 * The answer for a classification that is not stored by the caller: a
 * refusal (401, 405, 413, 414, 415, 400) or the HEAD probe's empty 200. For
 * `Accepted`, the caller answers 200 once the postback is stored
 * ({@link acceptedAnswer}), or 503 when it cannot be ({@link unavailableAnswer}).
 */
export const answerOf = (
  outcome: Exclude<Classification, { readonly _tag: "Accepted" }>
): Answer => {
  switch (outcome._tag) {
    case "Probe":
      return { status: 200, headers: { "cache-control": "no-store" }, body: "" }
    case "MethodNotAllowed":
      return errorAnswer(405, outcome.message, { allow: "GET, HEAD, POST" })
    case "Unauthorized":
      return errorAnswer(401, outcome.message)
    case "TooLarge":
      return errorAnswer(
        outcome.status,
        outcome.message,
        outcome.status === 413 ? { connection: "close" } : {}
      )
    case "Unsupported":
      return errorAnswer(415, outcome.message)
    case "Rejected":
      return json(400, postbackErrorJson(outcome.issues))
  }
}

/** 200: stored (`held` when a person must look before it is credited). */
export const acceptedAnswer = (identity: string, held: boolean): Answer =>
  json(200, { status: held ? "held" : "accepted", identity })

/** 503 with `Retry-After`: not stored; the sender retries on its own schedule. */
export const unavailableAnswer = (message = "the postback was not stored; retry later"): Answer =>
  errorAnswer(503, message, { "retry-after": String(RETRY_AFTER_SECONDS) })
