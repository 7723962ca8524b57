import type { Outcome } from "../Outcome.ts"

/** The greatest time a `Date` can hold, in milliseconds since the epoch. */
export const MAX_DATE_MILLIS = 8.64e15

/** A value as it should appear in an error message: strings quoted, numbers as written. */
export const show = (value: unknown): string => {
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return String(value)
  }
  if (value === undefined) return "undefined"
  if (typeof value === "function") return "a function"
  if (typeof value === "symbol") return value.toString()
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString()
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

export const isStatus = (u: unknown): u is number =>
  typeof u === "number" && Number.isInteger(u) && u >= 100 && u <= 599

export const isOutcome = (u: unknown): u is Outcome => {
  if (typeof u !== "object" || u === null || !("_tag" in u)) return false
  switch (u._tag) {
    case "response":
      return "status" in u && isStatus(u.status)
    case "timeout":
      return true
    case "connectionError":
      return !("reason" in u) || u.reason === undefined || typeof u.reason === "string"
    default:
      return false
  }
}

/** Throws a `TypeError` naming `name` unless `u` is a well-formed outcome. */
export const assertOutcome = (u: unknown, name: string): Outcome => {
  if (!isOutcome(u)) {
    throw new TypeError(
      `${name} must be an Outcome ({ _tag: "response", status: 100..599 }, { _tag: "timeout" } or { _tag: "connectionError" }), got ${show(u)}`
    )
  }
  return u
}

/** The time of a valid `Date`, or a `TypeError` naming `name`. */
export const millisOf = (u: unknown, name: string): number => {
  if (!(u instanceof Date) || Number.isNaN(u.getTime())) {
    throw new TypeError(`${name} must be a valid Date, got ${show(u)}`)
  }
  return u.getTime()
}

/** A `Date` at `millis`, or a `RangeError` when the time is past what a `Date` can hold. */
export const dateAt = (millis: number, what: string): Date => {
  if (!(Math.abs(millis) <= MAX_DATE_MILLIS)) {
    throw new RangeError(`${what} falls outside the range a Date can hold (${millis} ms)`)
  }
  return new Date(millis)
}
