// The rule "a 400 is a lost conversion", applied to the raw fields of one
// delivery: refuse only what cannot be a conversion (no usable `offer_id` or
// `payout`); for anything else, decide a documented stand-in, flag what was
// normalised, and hold for a person what must be looked at. Every field rule
// itself is @org/postback-schema's: this module calls its decoder (with the
// guard rails off, then on) and only decides what each problem means here.
import {
  makePlainParser,
  type PlainPostbackParser,
  type Postback,
  type PostbackIssue,
  type PostbackOptions,
  WIRE_FIELDS,
  type WireField
} from "@org/postback-schema/plain"
import type { PostbackFlag } from "../Delivery.ts"
import { percentEncoded, unstorable } from "./bytes.ts"
import { JsonNumber, jsonText, type RawFields } from "./fields.ts"

/** The settings this rule needs (resolved by `makePostbackIngest`). */
export interface LenientSettings {
  /** The configured guard rails: a postback past them is held, not refused. */
  readonly guardRails: PlainPostbackParser
  /** `is_loyaltyboost` when the sender gives none. */
  readonly defaultLoyaltyBoost: boolean
  /** How far ahead of its receipt a conversion time may be before the postback is held (ms). */
  readonly maxFutureSkewMs: number
}

export type Decision =
  | {
      readonly ok: true
      readonly postback: Postback
      readonly flags: ReadonlyArray<PostbackFlag>
      readonly holds: ReadonlyArray<PostbackIssue>
      /** Fields whose values are stand-ins (left out of the identity). */
      readonly unknown: ReadonlyArray<"timestamp" | "is_loyaltyboost">
    }
  | { readonly ok: false; readonly issues: ReadonlyArray<PostbackIssue> }

const UNLIMITED = 2 ** 31 - 1

// The decoder with no guard rails: only what makes a value unreadable.
const relaxed: PostbackOptions = {
  maxPayloadKeys: UNLIMITED,
  payloadKeyPattern: /^[\s\S]*$/,
  maxPayloadValueLength: UNLIMITED,
  maxPayloadSize: UNLIMITED,
  maxPayoutIntegerDigits: 1000,
  maxPayoutFractionDigits: 1000,
  maxFieldLength: UNLIMITED
}
const readable = makePlainParser(relaxed)

/** The guard rails of `options`, without the payload key pattern (an unusual key is a flag, not a hold). */
export const guardRailsOf = (options: PostbackOptions | undefined): PlainPostbackParser =>
  makePlainParser({ ...options, payloadKeyPattern: /^[\s\S]*$/ })

const CRITICAL: ReadonlySet<string> = new Set(["offer_id", "payout", ""])

/** A value that is exactly a `{macro}` placeholder: the sender had no value for it. */
const PLACEHOLDER = /^\{[^{}\s]+\}$/

/** The ordinary payload key (MomentScience's guidance, and this project's default pattern). */
const ORDINARY_KEY = /^[A-Za-z0-9_.-]{1,128}$/

// `2024-03-01T05:04:05 02:00`: a `+` sent unencoded arrives as a space.
const PLUS_AS_SPACE = /^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?) (\d{2}:?\d{2})$/

const isPlainNumber = (n: JsonNumber): boolean =>
  Number.isFinite(n.value) &&
  /^-?\d+(\.\d+)?$/.test(String(n.value)) &&
  (!Number.isInteger(n.value) || Number.isSafeInteger(n.value))

export const decide = (raw: RawFields, receivedAt: Date, settings: LenientSettings): Decision => {
  const flags: Array<PostbackFlag> = [...raw.flags]
  const holds: Array<PostbackIssue> = []
  const critical: Array<PostbackIssue> = []
  const unknown: Array<"timestamp" | "is_loyaltyboost"> = []
  const body: Record<string, unknown> = {}

  for (const repeated of raw.repeated) {
    const name = JSON.stringify(repeated.path.replace(/^payload\./, ""))
    if (repeated.same) {
      flags.push({
        code: "parameter_repeated",
        path: repeated.path,
        message: `the query parameter ${name} appears ${repeated.times} times with one value`
      })
    } else {
      const issue = {
        path: repeated.path,
        message: `the query parameter ${name} appears ${repeated.times} times with different values; the first is kept`
      }
      if (CRITICAL.has(repeated.path)) critical.push(issue)
      else holds.push(issue)
    }
  }

  // Top-level fields: text that cannot be stored, placeholders, JSON numbers.
  const field = (name: WireField, value: unknown): void => {
    if (value === undefined) return
    if (typeof value === "string") {
      const bad = unstorable(value)
      if (bad !== undefined) {
        const message = notText(bad, value)
        if (CRITICAL.has(name)) critical.push({ path: name, message })
        else {
          body[name] = percentEncoded(value)
          holds.push({ path: name, message })
          flags.push({
            code: "unstorable_text",
            path: name,
            message: `${message}; kept as ${JSON.stringify(percentEncoded(value))}`
          })
        }
        return
      }
      if (PLACEHOLDER.test(value)) {
        const message = `the macro ${value} was not replaced: the sender had no value for it`
        if (CRITICAL.has(name)) critical.push({ path: name, message })
        else
          flags.push({
            code: "macro_unreplaced",
            path: name,
            message: `${message}; read as absent`
          })
        return
      }
      body[name] = value
      return
    }
    if (value instanceof JsonNumber) {
      if (name === "payout" || (name === "offer_id" && !isPlainNumber(value))) {
        // The amount exactly as written ("2.10" stays 2.10, never a float).
        body[name] = value.text
        if (name === "offer_id") {
          flags.push({
            code: "field_normalized",
            path: name,
            message: `a JSON number, kept as its text ${JSON.stringify(value.text)}`
          })
        }
      } else if (name === "advertiser_name") {
        body[name] = value.text
        flags.push({
          code: "field_normalized",
          path: name,
          message: `a JSON number, kept as its text ${JSON.stringify(value.text)}`
        })
      } else body[name] = value.value
      return
    }
    if (name === "advertiser_name" && (typeof value === "boolean" || typeof value === "object")) {
      if (value === null) return
      body[name] = jsonText(value)
      flags.push({
        code: "field_normalized",
        path: name,
        message: `not a string, kept as its JSON text`
      })
      return
    }
    body[name] = value
  }
  for (const name of WIRE_FIELDS) {
    field(name, raw.fields[name])
  }

  // Payload: every entry kept, in a documented representation.
  const payload: Record<string, unknown> = {}
  for (const [rawKey, value] of raw.payload) {
    let key = rawKey
    const badKey = unstorable(rawKey)
    if (badKey !== undefined) {
      key = percentEncoded(rawKey)
      const message = `the payload key ${notText(badKey, rawKey)}; kept as ${JSON.stringify(key)}`
      holds.push({ path: `payload.${key}`, message })
      flags.push({ code: "unstorable_text", path: `payload.${key}`, message })
    } else if (!ORDINARY_KEY.test(key)) {
      flags.push({
        code: "payload_key_unusual",
        path: `payload.${key}`,
        message: `the payload key ${JSON.stringify(key)} has characters besides letters, digits, _, . and -; kept as it is`
      })
    }
    const path = `payload.${key}`
    if (typeof value === "string") {
      const bad = unstorable(value)
      if (bad !== undefined) {
        const message = notText(bad, value)
        payload[key] = percentEncoded(value)
        holds.push({ path, message })
        flags.push({
          code: "unstorable_text",
          path,
          message: `${message}; kept as ${JSON.stringify(percentEncoded(value))}`
        })
      } else if (PLACEHOLDER.test(value)) {
        flags.push({
          code: "macro_unreplaced",
          path,
          message: `the macro ${value} was not replaced: the sender had no value for it; read as absent`
        })
      } else payload[key] = value
    } else if (value instanceof JsonNumber) {
      payload[key] = isPlainNumber(value) ? value.value : value.text
      if (!isPlainNumber(value)) {
        flags.push({
          code: "payload_value_normalized",
          path,
          message: `a JSON number, kept as its text ${JSON.stringify(value.text)}`
        })
      }
    } else if (typeof value === "boolean") payload[key] = value
    else if (value === null) {
      flags.push({ code: "payload_value_normalized", path, message: "null: left out" })
    } else {
      const text = jsonText(value)
      payload[key] = text
      flags.push({
        code: "payload_value_normalized",
        path,
        message: `a JSON ${Array.isArray(value) ? "array" : "object"}, kept as its JSON text`
      })
    }
  }
  body.payload = payload

  // Stand-ins for what the sender did not give.
  if (body.timestamp === undefined) {
    body.timestamp = receivedAt.toISOString()
    unknown.push("timestamp")
    if (!flags.some((f) => f.path === "timestamp")) {
      flags.push({
        code: "timestamp_defaulted",
        path: "timestamp",
        message: "no timestamp: the time of receipt stands in"
      })
    }
  } else if (typeof body.timestamp === "string") {
    const repaired = PLUS_AS_SPACE.exec(body.timestamp)
    if (repaired !== null) {
      body.timestamp = `${repaired[1]}+${repaired[2]}`
      flags.push({
        code: "timestamp_repaired",
        path: "timestamp",
        message: `the + of the offset arrived as a space (send it as %2B); read as ${JSON.stringify(body.timestamp)}`
      })
    }
  }
  if (body.is_loyaltyboost === undefined) {
    body.is_loyaltyboost = settings.defaultLoyaltyBoost ? "1" : "0"
    unknown.push("is_loyaltyboost")
    flags.push({
      code: "loyaltyboost_defaulted",
      path: "is_loyaltyboost",
      message: `no is_loyaltyboost: the configured default (${settings.defaultLoyaltyBoost ? "1" : "0"}) stands in`
    })
  }

  // The configured guard rails first: a clean postback is decoded once.
  const guarded = settings.guardRails.parseJson(body)
  if (guarded.ok && critical.length === 0) {
    return finish(guarded.postback, receivedAt, settings, flags, holds, unknown)
  }
  // Then with the guard rails off: only unreadable values remain.
  let result = readable.parseJson(body)
  if (!result.ok) {
    for (const found of result.errors) {
      // Name the template's parameter that should have carried a missing field.
      const carrier = raw.carriers?.get(found.path)
      const issue =
        carrier !== undefined && carrier !== found.path && found.message === "is required"
          ? {
              ...found,
              message: `is required (the template carries it in the parameter ${JSON.stringify(carrier)})`
            }
          : found
      if (CRITICAL.has(issue.path) || critical.some((c) => c.path === issue.path)) {
        critical.push(issue)
        continue
      }
      holds.push(issue)
      if (issue.path === "timestamp") {
        const sent = body.timestamp
        body.timestamp = receivedAt.toISOString()
        unknown.push("timestamp")
        const hint =
          typeof sent === "string" && sent.includes(" ") ? " (a + must be sent as %2B)" : ""
        holds[holds.length - 1] = { path: issue.path, message: `${issue.message}${hint}` }
        flags.push({
          code: "timestamp_unreadable",
          path: "timestamp",
          message: `unreadable (${JSON.stringify(sent)}): the time of receipt stands in`
        })
      } else if (issue.path === "is_loyaltyboost") {
        body.is_loyaltyboost = settings.defaultLoyaltyBoost ? "1" : "0"
        unknown.push("is_loyaltyboost")
      } else if (issue.path === "advertiser_name") {
        body.advertiser_name =
          typeof body.advertiser_name === "string"
            ? body.advertiser_name
            : jsonText(body.advertiser_name)
      } else if (issue.path.startsWith("payload")) {
        // Not expected after the normalisation above; keep the entry's text.
        const key = issue.path.slice("payload.".length)
        if (key in payload) payload[key] = jsonText(payload[key])
      }
    }
    if (critical.length > 0) return { ok: false, issues: uniqueIssues([...critical, ...holds]) }
    result = readable.parseJson(body)
    if (!result.ok) return { ok: false, issues: result.errors }
  }
  if (critical.length > 0) return { ok: false, issues: uniqueIssues([...critical, ...holds]) }

  // The configured guard rails: past them, a person looks.
  const rails = guarded.ok ? guarded : settings.guardRails.parseJson(body)
  if (!rails.ok) for (const issue of rails.errors) if (issue.path !== "timestamp") holds.push(issue)
  return finish(result.postback, receivedAt, settings, flags, holds, unknown)
}

const finish = (
  postback: Postback,
  receivedAt: Date,
  settings: LenientSettings,
  flags: Array<PostbackFlag>,
  holds: Array<PostbackIssue>,
  unknown: Array<"timestamp" | "is_loyaltyboost">
): Decision => {
  if (!unknown.includes("timestamp")) {
    const ahead = postback.timestamp.getTime() - receivedAt.getTime()
    if (ahead > settings.maxFutureSkewMs) {
      holds.push({
        path: "timestamp",
        message: `is ${describeDuration(ahead)} after the postback arrived (${receivedAt.toISOString()}); more than the ${describeDuration(settings.maxFutureSkewMs)} allowed`
      })
    }
  }
  return { ok: true, postback, flags, holds: uniqueIssues(holds), unknown }
}

// A NUL or any surrogate (a pair too: the marks of bytes that are not UTF-8
// are pairs; an emoji then merely takes the slower path).
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be found
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/

const plainText = (text: string): boolean =>
  !UNSTORABLE.test(text) && !(text.charCodeAt(0) === 123 && PLACEHOLDER.test(text))

/**
 * The decision for a postback that the configured decoder took as it is,
 * when nothing in it needs a rule of this module (no text that cannot be
 * stored, no unreplaced macro, no unusual payload key); `undefined` when
 * something does, and the delivery must go through {@link decide}. This is
 * the path of nearly every real postback, at the cost of one decode.
 */
export const decideClean = (
  postback: Postback,
  receivedAt: Date,
  settings: LenientSettings
): Decision | undefined => {
  if (!plainText(postback.offerId) || !plainText(postback.advertiserName)) return undefined
  for (const key in postback.payload) {
    if (!ORDINARY_KEY.test(key) || !plainText(postback.payload[key]!)) return undefined
  }
  return finish(postback, receivedAt, settings, [], [], [])
}

const notText = (reason: NonNullable<ReturnType<typeof unstorable>>, value: string): string => {
  const bytes = percentEncoded(value)
  switch (reason) {
    case "invalid_utf8":
      return `is not valid UTF-8 (its bytes: ${bytes}); send text as UTF-8`
    case "nul":
      return `contains a NUL character (${bytes}), which cannot be stored as text`
    case "unpaired_surrogate":
      return `contains an unpaired surrogate (${bytes}), which is not text`
  }
}

const uniqueIssues = (issues: ReadonlyArray<PostbackIssue>): Array<PostbackIssue> => {
  const seen = new Set<string>()
  return issues.filter((issue) => {
    const key = `${issue.path}\u0000${issue.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

const describeDuration = (ms: number): string => {
  const seconds = Math.round(ms / 1000)
  if (seconds < 120) return `${seconds} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 120) return `${minutes} min`
  const hours = Math.round(minutes / 60)
  if (hours < 48) return `${hours} h`
  return `${Math.round(hours / 24)} days`
}
