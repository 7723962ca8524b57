// The rules of each postback field, as plain functions shared by every wire
// form. Each takes the raw wire value and returns the decoded value or a
// `Problem` whose message completes "<field>: ...".
import { Decimal } from "../Decimal.ts"

/** Why a value was refused. */
export class Problem {
  constructor(readonly message: string) {}
}

const MAX_SHOWN = 48

/** A short, unambiguous rendering of a refused value for messages: `"abc"`, `12`, `null`, `an array`. */
export const show = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(u.length > MAX_SHOWN ? `${u.slice(0, MAX_SHOWN)}…` : u)
    case "number":
      return Object.is(u, -0) ? "-0" : String(u)
    case "bigint":
      return `${u}n`
    case "boolean":
    case "undefined":
      return String(u)
    case "object":
      if (u === null) return "null"
      if (Array.isArray(u)) return "an array"
      return "an object"
    default:
      return `a ${typeof u}`
  }
}

const expected = (what: string, u: unknown): Problem =>
  new Problem(`expected ${what}, got ${show(u)}`)

const tooLong = (u: string, maxLength: number): Problem =>
  new Problem(`must be at most ${maxLength} characters, got ${u.length}`)

/** Plain decimal notation, as `Decimal.fromString` reads it (and `String(n)` may print it). */
const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/

// -- offer_id, advertiser_name ------------------------------------------------

export const OFFER_ID_EXPECTED = "a non-empty string or a non-negative integer"

/** A non-empty string; a JSON number must be a safe non-negative integer and is stringified. */
export const offerId = (u: unknown, maxLength: number): string | Problem => {
  if (typeof u === "string") {
    if (u.length === 0) return new Problem("must not be empty")
    return u.length > maxLength ? tooLong(u, maxLength) : u
  }
  if (typeof u === "number" && Number.isSafeInteger(u) && u >= 0) return String(u)
  return expected(OFFER_ID_EXPECTED, u)
}

/** Any string (empty included) up to `maxLength`. */
export const advertiserName = (u: unknown, maxLength: number): string | Problem => {
  if (typeof u !== "string") return expected("a string", u)
  return u.length > maxLength ? tooLong(u, maxLength) : u
}

// -- payout ---------------------------------------------------------------------

export const PAYOUT_EXPECTED = 'a decimal string like "2.10"'

const EXPONENT = /^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$/

export interface PayoutLimits {
  readonly maxPayoutIntegerDigits: number
  readonly maxPayoutFractionDigits: number
}

/**
 * A non-negative decimal in plain notation, within the digit limits. A JSON
 * number is read through `String(n)`, so only when that is plain notation.
 */
export const payout = (u: unknown, limits: PayoutLimits): Decimal | Problem => {
  let text: string
  if (typeof u === "string") {
    text = u
  } else if (typeof u === "number" && Number.isFinite(u)) {
    text = String(u)
    if (!PLAIN_DECIMAL.test(text)) {
      return new Problem(
        `the JSON number ${text} prints in exponent notation; send the payout as a string like "2.10"`
      )
    }
  } else {
    return expected(PAYOUT_EXPECTED, u)
  }
  const decimal = Decimal.fromString(text)
  if (decimal === undefined) {
    return EXPONENT.test(text)
      ? new Problem(
          `exponent notation is not accepted, expected ${PAYOUT_EXPECTED}, got ${show(u)}`
        )
      : expected(PAYOUT_EXPECTED, u)
  }
  if (decimal.isNegative()) return new Problem(`must not be negative, got ${show(u)}`)
  if (decimal.scale > limits.maxPayoutFractionDigits) {
    return new Problem(
      `must have at most ${limits.maxPayoutFractionDigits} digits after the decimal point, got ${show(u)}`
    )
  }
  if (decimal.integerDigits() > limits.maxPayoutIntegerDigits) {
    return new Problem(
      `must have at most ${limits.maxPayoutIntegerDigits} digits before the decimal point, got ${show(u)}`
    )
  }
  return decimal
}

// -- timestamp ------------------------------------------------------------------

export const TIMESTAMP_EXPECTED =
  'an ISO 8601 date-time with Z or an offset, like "2023-09-20T15:27:40.802Z"'

// RFC 3339's profile of ISO 8601: date, `T`, time with seconds, optional
// fraction, and a zone (`Z`, `+02:00` or `+0200`). The zone is optional in the
// pattern only so that its absence gets a message of its own.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

const isLeapYear = (year: number): boolean =>
  (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0

const YEAR_1: number = new Date(0).setUTCFullYear(1, 0, 1)
const YEAR_10000: number = Date.UTC(10000, 0, 1)

/**
 * The instant a timestamp names. Digits below the millisecond are dropped (a
 * `Date` holds milliseconds). The instant must fall in the years 0001 to 9999
 * UTC: its canonical text then reads back, and PostgreSQL can store it (it
 * has no year 0: 1 BC precedes AD 1).
 */
export const timestamp = (u: unknown): Date | Problem => {
  if (typeof u !== "string") return expected(TIMESTAMP_EXPECTED, u)
  const m = ISO_DATE_TIME.exec(u)
  if (m === null) return expected(TIMESTAMP_EXPECTED, u)
  if (m[8] === undefined && m[9] === undefined) {
    return new Problem(`has no time zone; add Z or an offset like +02:00, got ${show(u)}`)
  }
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = Number(m[6])
  const monthDays = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]
  if (monthDays === undefined || day < 1 || day > monthDays) {
    return new Problem(`is not a calendar date, got ${show(u)}`)
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return new Problem(`is not a valid time of day, got ${show(u)}`)
  }
  let offsetMinutes = 0
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10])
    const offsetMins = Number(m[11])
    if (offsetHours > 23 || offsetMins > 59)
      return new Problem(`has an invalid offset, got ${show(u)}`)
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMins)
  }
  const millis =
    m[7] === undefined ? 0 : Number(m[7].length >= 3 ? m[7].slice(0, 3) : m[7].padEnd(3, "0"))
  const time =
    year >= 100
      ? Date.UTC(year, month - 1, day, hour, minute - offsetMinutes, second, millis)
      : // Date.UTC reads the years 0 to 99 as 1900 to 1999; setUTCFullYear does not.
        new Date(0).setUTCFullYear(year, month - 1, day) +
        ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 +
        millis
  if (!(time >= YEAR_1 && time < YEAR_10000)) {
    return new Problem(`must fall in the years 0001 to 9999 UTC, got ${show(u)}`)
  }
  return new Date(time)
}

// -- is_loyaltyboost ------------------------------------------------------------

export const LOYALTY_BOOST_EXPECTED = '"1" or "0"'

/** `"1"`/`"0"`; in JSON also `1`/`0` and `true`/`false`. */
export const loyaltyBoost = (u: unknown): boolean | Problem => {
  switch (u) {
    case "1":
    case 1:
    case true:
      return true
    case "0":
    case 0:
    case false:
      return false
    default:
      return expected(LOYALTY_BOOST_EXPECTED, u)
  }
}

// -- payload --------------------------------------------------------------------

export interface PayloadLimits {
  readonly maxPayloadKeys: number
  readonly payloadKeyPattern: RegExp
  readonly maxPayloadValueLength: number
  readonly maxPayloadSize: number
}

export const PAYLOAD_EXPECTED = "an object of strings"

/**
 * A payload value as a string: strings as they are; finite numbers in plain
 * notation and booleans stringified; a number JSON cannot carry exactly (an
 * integer beyond 2^53) refused rather than silently changed.
 */
export const payloadValue = (u: unknown): string | Problem => {
  if (typeof u === "string") return u
  if (typeof u === "boolean") return u ? "true" : "false"
  if (typeof u === "number" && Number.isFinite(u)) {
    const text = String(u)
    if (!PLAIN_DECIMAL.test(text)) {
      return new Problem(`the number ${text} prints in exponent notation; send it as a string`)
    }
    if (Number.isInteger(u) && !Number.isSafeInteger(u)) {
      return new Problem(`the number ${text} is too large to be exact; send it as a string`)
    }
    return text
  }
  return expected("a string", u)
}

/** Sets `key` on a payload record, also when the key is `"__proto__"`. */
export const setEntry = (record: { [key: string]: string }, key: string, value: string): void => {
  if (key === "__proto__") {
    Object.defineProperty(record, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true
    })
  } else {
    record[key] = value
  }
}

/**
 * The problems of one payload entry with the key pattern and the value
 * length, or `undefined` when it has none.
 */
export const payloadEntryProblems = (
  key: string,
  value: string,
  limits: PayloadLimits
): ReadonlyArray<Problem> | undefined => {
  const badKey = !limits.payloadKeyPattern.test(key)
  const tooLongValue = value.length > limits.maxPayloadValueLength
  if (!badKey && !tooLongValue) return undefined
  const problems: Array<Problem> = []
  if (badKey)
    problems.push(new Problem(`the key does not match ${String(limits.payloadKeyPattern)}`))
  if (tooLongValue) problems.push(tooLong(value, limits.maxPayloadValueLength))
  return problems
}

/** Checks the number of payload entries and their total size. */
export const payloadTotalsProblems = (
  count: number,
  size: number,
  limits: PayloadLimits
): ReadonlyArray<Problem> => {
  const out: Array<Problem> = []
  if (count > limits.maxPayloadKeys) {
    out.push(new Problem(`must have at most ${limits.maxPayloadKeys} keys, got ${count}`))
  }
  if (size > limits.maxPayloadSize) {
    out.push(
      new Problem(
        `keys and values must total at most ${limits.maxPayloadSize} characters, got ${size}`
      )
    )
  }
  return out
}
