/**
 * Guard rails and settings for decoding postbacks. Every field is optional;
 * the defaults are generous next to MomentScience's guidance (at most 10
 * payload attributes, values under 128 characters, names alphanumeric with
 * underscores) so that a real postback is never refused for its size.
 *
 * Options are checked when a schema or parser is made: a bad value throws a
 * `RangeError` or `TypeError` naming the option and the value.
 */
export interface PostbackOptions {
  /** Most payload entries accepted. Default 50. */
  readonly maxPayloadKeys?: number
  /**
   * Pattern every payload key must match. Default `/^[A-Za-z0-9_.-]{1,128}$/`
   * (pass `/^\w+$/` for MomentScience's stricter advice). `g` and `y` flags
   * are ignored.
   */
  readonly payloadKeyPattern?: RegExp
  /** Longest payload value, in UTF-16 code units. Default 1024. */
  readonly maxPayloadValueLength?: number
  /** Most characters in all payload keys and values together. Default 16384. */
  readonly maxPayloadSize?: number
  /** Most digits before the decimal point of `payout`. Default 12. */
  readonly maxPayoutIntegerDigits?: number
  /** Most digits after the decimal point of `payout`. Default 8. */
  readonly maxPayoutFractionDigits?: number
  /** Longest `offer_id` and `advertiser_name`. Default 1024. */
  readonly maxFieldLength?: number
  /**
   * Query parameter names that are not part of the postback and are dropped
   * before decoding a GET query or a form body, such as the receiver's
   * `secret`. Default none. JSON bodies are not affected.
   */
  readonly exclude?: ReadonlyArray<string>
  /** Largest request body `decodeRequest` reads, in bytes. Default 65536. */
  readonly maxBodyBytes?: number
}

/** {@link PostbackOptions} with every default filled in and every value checked. */
export interface ResolvedPostbackOptions {
  readonly maxPayloadKeys: number
  readonly payloadKeyPattern: RegExp
  readonly maxPayloadValueLength: number
  readonly maxPayloadSize: number
  readonly maxPayoutIntegerDigits: number
  readonly maxPayoutFractionDigits: number
  readonly maxFieldLength: number
  readonly exclude: ReadonlySet<string>
  readonly maxBodyBytes: number
}

/** The defaults of every {@link PostbackOptions} field. */
export const DEFAULT_POSTBACK_OPTIONS: ResolvedPostbackOptions = Object.freeze({
  maxPayloadKeys: 50,
  payloadKeyPattern: /^[A-Za-z0-9_.-]{1,128}$/,
  maxPayloadValueLength: 1024,
  maxPayloadSize: 16384,
  maxPayoutIntegerDigits: 12,
  maxPayoutFractionDigits: 8,
  maxFieldLength: 1024,
  exclude: new Set<string>(),
  maxBodyBytes: 65536
})

const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULT_POSTBACK_OPTIONS))

const positiveInteger = (name: string, value: unknown, fallback: number, min = 1): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    const what = min === 0 ? "a non-negative integer" : "a positive integer"
    throw new RangeError(`option ${name} must be ${what}, got ${describe(value)}`)
  }
  return value
}

const describe = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value) : String(value)

/**
 * Checks `options` and fills in the defaults. Throws a `RangeError` or
 * `TypeError` naming the first bad option.
 *
 * @example
 * import { resolvePostbackOptions } from "@org/postback-schema"
 * resolvePostbackOptions({ maxPayloadKeys: 10 }).maxPayloadKeys // 10
 * resolvePostbackOptions({ maxPayloadKeys: 0 }) // throws RangeError: option maxPayloadKeys must be a positive integer, got 0
 */
export const resolvePostbackOptions = (options: PostbackOptions = {}): ResolvedPostbackOptions => {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`postback options must be an object, got ${describe(options)}`)
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) {
      throw new TypeError(
        `unknown postback option ${JSON.stringify(name)} (known: ${[...OPTION_NAMES].join(", ")})`
      )
    }
  }
  const d = DEFAULT_POSTBACK_OPTIONS
  let payloadKeyPattern = d.payloadKeyPattern
  if (options.payloadKeyPattern !== undefined) {
    if (!(options.payloadKeyPattern instanceof RegExp)) {
      throw new TypeError(
        `option payloadKeyPattern must be a RegExp, got ${describe(options.payloadKeyPattern)}`
      )
    }
    // A global or sticky RegExp keeps state between `test` calls.
    const { source, flags } = options.payloadKeyPattern
    payloadKeyPattern = new RegExp(source, flags.replace(/[gy]/g, ""))
  }
  let exclude = d.exclude
  if (options.exclude !== undefined) {
    if (!Array.isArray(options.exclude) || !options.exclude.every((n) => typeof n === "string")) {
      throw new TypeError(
        `option exclude must be an array of parameter names, got ${describe(options.exclude)}`
      )
    }
    exclude = new Set(options.exclude)
  }
  return {
    maxPayloadKeys: positiveInteger("maxPayloadKeys", options.maxPayloadKeys, d.maxPayloadKeys, 0),
    payloadKeyPattern,
    maxPayloadValueLength: positiveInteger(
      "maxPayloadValueLength",
      options.maxPayloadValueLength,
      d.maxPayloadValueLength,
      0
    ),
    maxPayloadSize: positiveInteger("maxPayloadSize", options.maxPayloadSize, d.maxPayloadSize, 0),
    maxPayoutIntegerDigits: positiveInteger(
      "maxPayoutIntegerDigits",
      options.maxPayoutIntegerDigits,
      d.maxPayoutIntegerDigits
    ),
    maxPayoutFractionDigits: positiveInteger(
      "maxPayoutFractionDigits",
      options.maxPayoutFractionDigits,
      d.maxPayoutFractionDigits,
      0
    ),
    maxFieldLength: positiveInteger("maxFieldLength", options.maxFieldLength, d.maxFieldLength),
    exclude,
    maxBodyBytes: positiveInteger("maxBodyBytes", options.maxBodyBytes, d.maxBodyBytes)
  }
}
