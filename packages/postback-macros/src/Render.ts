import { type Postback, wireValue } from "@org/postback-schema/plain"
import { isDotSegment } from "./internal/parse.ts"
import { describe, programOf, type Slot } from "./internal/program.ts"
import type { MacroTemplate } from "./MacroTemplate.ts"

/**
 * What {@link render} writes for a payload macro whose key the postback's
 * payload does not have:
 *
 * - `empty` (default, as ad networks do): nothing (`user_id=`)
 * - `keep`: the macro's own text, percent-encoded for its place (`user_id=%7Buser_id%7D`)
 * - `error`: throw a {@link RenderError} naming every missing macro
 *
 * Built-in macros always have a value.
 */
export type MissingValuePolicy = "empty" | "keep" | "error"

/** Every {@link MissingValuePolicy}. */
export const MISSING_VALUE_POLICIES: ReadonlyArray<MissingValuePolicy> = ["empty", "keep", "error"]

export interface RenderOptions {
  /** For payload macros without a value; `empty` when not given. */
  readonly missing?: MissingValuePolicy | undefined
}

/** Thrown by {@link render} when a postback's values cannot be written into the template. */
export class RenderError extends Error {
  override readonly name: "RenderError" = "RenderError"
  /**
   * `missing-value`: payload keys absent under the `error` policy.
   * `dot-segment`: a value would make a whole path segment `.` or `..`, which
   * URL parsers remove instead of sending.
   */
  readonly reason: "missing-value" | "dot-segment"
  /** The macros concerned. */
  readonly macros: ReadonlyArray<string>

  constructor(
    reason: "missing-value" | "dot-segment",
    macros: ReadonlyArray<string>,
    message: string
  ) {
    super(message)
    this.reason = reason
    this.macros = macros
  }
}

const RENDER_OPTION_KEYS: ReadonlyArray<string> = ["missing"]

const missingPolicy = (options: RenderOptions | undefined): MissingValuePolicy => {
  if (options === undefined) return "empty"
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`render: options must be an object, got ${describe(options)}`)
  }
  for (const key in options) {
    if (!RENDER_OPTION_KEYS.includes(key)) {
      throw new TypeError(`render: unknown option ${JSON.stringify(key)} (known: missing)`)
    }
  }
  const missing = options.missing
  if (missing === undefined) return "empty"
  if (!MISSING_VALUE_POLICIES.includes(missing)) {
    throw new TypeError(
      `render: option "missing" must be "empty", "keep" or "error", got ${describe(missing)}`
    )
  }
  return missing
}

/**
 * Writes a postback's values into the template. Built-in macros print through
 * `wireValue` of `@org/postback-schema` (`payout` as `2.10`, `timestamp` as
 * ISO 8601 with milliseconds, `is_loyaltyboost` as `1`/`0`); payload macros
 * take `postback.payload[name]`. Each value is percent-encoded for where it
 * stands (query value, path segment or fragment) by an encoder chosen when
 * the template was parsed; options are checked before anything is rendered.
 *
 * Throws a `TypeError` for a bad option or a malformed postback (naming the
 * field), a {@link RenderError} for a missing value under `missing: "error"`
 * or a value that would make a path segment `.` or `..`.
 *
 * @example
 * import { Decimal, parseTemplate, render } from "@org/postback-macros"
 *
 * const template = parseTemplate(
 *   "https://api.example.com/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}"
 * )
 * render(template, {
 *   offerId: "1511",
 *   advertiserName: "Moment Science & Co",
 *   payout: Decimal.parse("2.10"),
 *   timestamp: new Date("2023-09-20T15:27:40.802Z"),
 *   isLoyaltyBoost: true,
 *   payload: { user_id: "3410444" }
 * })
 * // "https://api.example.com/postbacks?payout=2.10&user_id=3410444&offer_id=1511"
 */
export const render = (
  template: MacroTemplate,
  postback: Postback,
  options?: RenderOptions
): string => {
  const { literals, slots } = programOf(template, "render")
  const policy = missingPolicy(options)
  let out = literals[0]!
  let missing: Array<string> | undefined
  try {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!
      let value: string
      if (slot.field !== undefined) {
        value = slot.encode(wireValue(postback, slot.field))
      } else if (Object.hasOwn(postback.payload, slot.name)) {
        value = slot.encode(postback.payload[slot.name]!)
      } else if (policy === "empty") {
        value = ""
      } else if (policy === "keep") {
        value = slot.kept
      } else {
        if (missing === undefined) missing = []
        missing.push(slot.name)
        value = ""
      }
      if (slot.dotGuard !== undefined) checkSegment(slot, value)
      out += value
      out += literals[i + 1]!
    }
  } catch (error) {
    if (error instanceof RenderError) throw error
    // Only a malformed postback gets here; find the field to name it.
    throw diagnose(postback, slots) ?? error
  }
  if (missing !== undefined) {
    const names = [...new Set(missing)]
    throw new RenderError(
      "missing-value",
      names,
      `render: no value for ${names.map((name) => `{${name}}`).join(", ")}: the postback's payload has no such key (missing: "error")`
    )
  }
  return out
}

const checkSegment = (slot: Slot, value: string): void => {
  const guard = slot.dotGuard!
  const segment = guard.prefix + value + guard.suffix
  if (isDotSegment(segment)) {
    throw new RenderError(
      "dot-segment",
      [slot.name],
      `render: the value of {${slot.name}} makes a path segment ${JSON.stringify(segment)}, which URL parsers remove instead of sending`
    )
  }
}

const FIELD_CHECKS: ReadonlyArray<readonly [string, (value: unknown) => boolean, string]> = [
  ["offerId", (value) => typeof value === "string", "a string"],
  ["advertiserName", (value) => typeof value === "string", "a string"],
  [
    "payout",
    (value) => typeof value === "object" && value !== null && typeof value.toString === "function",
    "a Decimal"
  ],
  ["timestamp", (value) => value instanceof Date && !Number.isNaN(value.getTime()), "a valid Date"],
  ["isLoyaltyBoost", (value) => typeof value === "boolean", "a boolean"]
]

const diagnose = (postback: unknown, slots: ReadonlyArray<Slot>): TypeError | undefined => {
  if (typeof postback !== "object" || postback === null) {
    return new TypeError(`render: postback must be an object, got ${describe(postback)}`)
  }
  const record = postback as Record<string, unknown>
  for (const [field, check, expected] of FIELD_CHECKS) {
    if (!check(record[field])) {
      return new TypeError(
        `render: postback.${field} must be ${expected}, got ${describe(record[field])}`
      )
    }
  }
  const payload = record.payload
  if (typeof payload !== "object" || payload === null) {
    return new TypeError(`render: postback.payload must be an object, got ${describe(payload)}`)
  }
  for (const slot of slots) {
    const value = (payload as Record<string, unknown>)[slot.name]
    if (
      slot.field === undefined &&
      Object.hasOwn(payload, slot.name) &&
      typeof value !== "string"
    ) {
      return new TypeError(
        `render: postback.payload.${slot.name} must be a string, got ${describe(value)}`
      )
    }
  }
  return undefined
}
