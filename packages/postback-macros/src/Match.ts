import { isWireField, WIRE_FIELDS } from "@org/postback-schema/plain"
import { decodeComponent, decodeQuery } from "./internal/encoding.ts"
import { describe, type Matcher, programOf, type ValuePattern } from "./internal/program.ts"
import type { MacroTemplate } from "./MacroTemplate.ts"

/**
 * The values recovered from a URL, in wire form (`payout` is `"2.10"`,
 * `is_loyaltyboost` is `"1"`), ready for `@org/postback-schema`'s decoders.
 * A built-in field is present when the template carries its macro; every
 * other macro lands in `payload`.
 */
export interface MatchedFields {
  readonly offer_id?: string
  readonly advertiser_name?: string
  readonly payout?: string
  readonly timestamp?: string
  readonly is_loyaltyboost?: string
  readonly payload: { readonly [key: string]: string }
}

/**
 * Why a URL does not fit a template.
 *
 * - `invalid-url`: not an absolute URL nor a path starting with `/`
 * - `path-mismatch`: not the template's number of path segments
 * - `literal-mismatch`: a path segment, query value or fragment differs from
 *   the template's literal text (or its text around a macro)
 * - `missing-parameter`: a query parameter of the template is absent
 * - `duplicate-parameter`: a query parameter of the template appears more than once
 * - `unknown-parameter`: a parameter not in the template, with `unknownParameters: "error"`
 * - `conflicting-values`: a macro used in two places has two different values
 * - `malformed-encoding`: bad percent-escapes or percent-encoded bytes that are not UTF-8
 * - `missing-fragment`: the template has a macro in the fragment and the URL has no fragment
 */
export type MatchErrorCode =
  | "invalid-url"
  | "path-mismatch"
  | "literal-mismatch"
  | "missing-parameter"
  | "duplicate-parameter"
  | "unknown-parameter"
  | "conflicting-values"
  | "malformed-encoding"
  | "missing-fragment"

export interface MatchError {
  readonly code: MatchErrorCode
  /** A sentence naming the parameter, segment or macro and what is wrong. */
  readonly message: string
  /** The query parameter concerned, when there is one (decoded name). */
  readonly parameter?: string
  /** The macro concerned, when there is one. */
  readonly macro?: string
}

export type MatchResult =
  | { readonly ok: true; readonly fields: MatchedFields }
  | { readonly ok: false; readonly errors: ReadonlyArray<MatchError> }

export interface MatchOptions {
  /**
   * Query parameters the template does not mention: `ignore` them (default;
   * a receiver's own `secret`, tracking parameters added on the way) or
   * report each as an `unknown-parameter` error.
   */
  readonly unknownParameters?: "ignore" | "error" | undefined
  /**
   * Parameters that are never reported as unknown, for `unknownParameters:
   * "error"` (e.g. `["secret"]`). Listing a parameter the template uses is an error.
   */
  readonly ignoreParameters?: ReadonlyArray<string> | undefined
}

const MATCH_OPTION_KEYS: ReadonlyArray<string> = ["unknownParameters", "ignoreParameters"]
const NO_NAMES: ReadonlyArray<string> = []

/** `undefined`: ignore unknown parameters; otherwise the names still allowed. */
const unknownAllowed = (
  options: MatchOptions | undefined,
  matcher: Matcher
): ReadonlyArray<string> | undefined => {
  if (options === undefined) return undefined
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`match: options must be an object, got ${describe(options)}`)
  }
  for (const key in options) {
    if (!MATCH_OPTION_KEYS.includes(key)) {
      throw new TypeError(
        `match: unknown option ${JSON.stringify(key)} (known: unknownParameters, ignoreParameters)`
      )
    }
  }
  const { ignoreParameters, unknownParameters } = options
  if (
    unknownParameters !== undefined &&
    unknownParameters !== "ignore" &&
    unknownParameters !== "error"
  ) {
    throw new TypeError(
      `match: option "unknownParameters" must be "ignore" or "error", got ${describe(unknownParameters)}`
    )
  }
  if (ignoreParameters !== undefined) {
    if (!Array.isArray(ignoreParameters)) {
      throw new TypeError(
        `match: option "ignoreParameters" must be an array of parameter names, got ${describe(ignoreParameters)}`
      )
    }
    for (const name of ignoreParameters) {
      if (typeof name !== "string") {
        throw new TypeError(
          `match: option "ignoreParameters" must hold strings, got ${describe(name)}`
        )
      }
      if (matcher.byName.has(name)) {
        throw new TypeError(
          `match: option "ignoreParameters" lists ${JSON.stringify(name)}, which the template uses`
        )
      }
    }
  }
  return unknownParameters === "error" ? (ignoreParameters ?? NO_NAMES) : undefined
}

const quote = (text: string): string => JSON.stringify(text)

/** The macro's value when `decoded` fits the pattern, `undefined` when it does not. */
const fit = (pattern: ValuePattern, decoded: string): string | undefined => {
  const { prefix, suffix } = pattern
  if (pattern.macro === undefined) return decoded === prefix ? "" : undefined
  if (prefix === "" && suffix === "") return decoded
  if (
    decoded.length < prefix.length + suffix.length ||
    !decoded.startsWith(prefix) ||
    !decoded.endsWith(suffix)
  ) {
    return undefined
  }
  return decoded.slice(prefix.length, decoded.length - suffix.length)
}

/** The state of one `match` call: values by macro slot, and where each came from. */
class Run {
  errors: Array<MatchError> | undefined = undefined
  readonly values: Array<string | undefined>
  readonly sources: Array<ValuePattern | undefined>

  constructor(size: number) {
    this.values = new Array(size).fill(undefined)
    this.sources = new Array(size).fill(undefined)
  }

  fail(error: MatchError): void {
    if (this.errors === undefined) this.errors = [error]
    else this.errors.push(error)
  }

  take(pattern: ValuePattern, raw: string): void {
    let decoded: string
    try {
      decoded = pattern.form ? decodeQuery(raw) : decodeComponent(raw)
    } catch {
      this.fail(
        withParameter(pattern, {
          code: "malformed-encoding",
          message: `${pattern.label} has malformed percent-encoding: ${quote(raw)}`
        })
      )
      return
    }
    const value = fit(pattern, decoded)
    if (value === undefined) {
      this.fail(
        withParameter(pattern, {
          code: "literal-mismatch",
          message: `${pattern.label} is ${quote(decoded)}, the template expects ${pattern.expected}`
        })
      )
      return
    }
    const slot = pattern.slot
    if (slot === -1) return
    const previous = this.values[slot]
    if (previous === undefined) {
      this.values[slot] = value
      this.sources[slot] = pattern
    } else if (previous !== value) {
      this.fail({
        code: "conflicting-values",
        message: `{${pattern.macro}} has two different values: ${quote(previous)} in ${this.sources[slot]!.label} and ${quote(value)} in ${pattern.label}`,
        macro: pattern.macro!
      })
    }
  }
}

const withParameter = (
  pattern: ValuePattern,
  error: { readonly code: MatchErrorCode; readonly message: string }
): MatchError =>
  pattern.parameter === undefined ? error : { ...error, parameter: pattern.parameter }

const SCHEME_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/

/**
 * Recovers the field values from a request URL, given the template the
 * publisher registered: the reverse of {@link render}.
 *
 * - The origin (scheme, host, port) is not compared: a receiver behind a
 *   proxy sees its own host. `url` may be absolute, a `URL`, or a path with
 *   query such as Node's `req.url` (`/postbacks?amount=2.10`).
 * - The path must have the template's segments; each segment is
 *   percent-decoded on its own, so `%2F` inside a value is part of the value.
 * - Query parameters are found by name, in any order; names and values are
 *   form-decoded (`+` is a space, then percent-decoding). Parameters the
 *   template does not mention are ignored unless `unknownParameters: "error"`.
 * - Literal text must be equal after decoding; a macro with literal text
 *   around it in the same component (`sub=pb-{offer_id}`) takes what lies
 *   between.
 * - A macro used in several places must have one value.
 * - The fragment is checked only when the template has a macro there.
 *
 * Returns every error found, never throws for a URL; throws a `TypeError`
 * for a bad option.
 *
 * @example
 * const template = parseTemplate("https://pub.example/pb?amount={payout}&uid={user_id}&oid={offer_id}")
 * match(template, "https://pub.example/pb?oid=1511&secret=s3&uid=3410444&amount=2.10")
 * // { ok: true, fields: { offer_id: "1511", payout: "2.10", payload: { user_id: "3410444" } } }
 */
export const match = (
  template: MacroTemplate,
  url: string | URL,
  options?: MatchOptions
): MatchResult => {
  const { matcher } = programOf(template, "match")
  const allowed = unknownAllowed(options, matcher)

  let path: string
  let query: string
  let fragment: string | undefined
  if (typeof url === "string") {
    let start = 0
    if (url.charCodeAt(0) !== 47) {
      const origin = SCHEME_AUTHORITY.exec(url)
      if (origin === null) {
        return invalidUrl(url)
      }
      start = origin[0].length
    }
    let hash = url.indexOf("#", start)
    if (hash === -1) hash = url.length
    else fragment = url.slice(hash + 1)
    let question = url.indexOf("?", start)
    if (question === -1 || question > hash) question = hash
    path = start === question ? "/" : url.slice(start, question)
    query = question < hash ? url.slice(question + 1, hash) : ""
    if (path.charCodeAt(0) !== 47) return invalidUrl(url)
  } else if (typeof url === "object" && url !== null && typeof url.pathname === "string") {
    path = url.pathname
    query = url.search.slice(1)
    fragment = url.hash !== "" ? url.hash.slice(1) : url.href.endsWith("#") ? "" : undefined
  } else {
    throw new TypeError(`match: url must be a string or a URL, got ${describe(url)}`)
  }

  const run = new Run(matcher.macros.length)

  // Path, segment by segment.
  const segments = matcher.segments
  const actual = path.split("/")
  if (actual.length - 1 !== segments.length) {
    run.fail({
      code: "path-mismatch",
      message: `path ${quote(path)} has ${actual.length - 1} segment(s), the template's path ${quote(matcher.pathText)} has ${segments.length}`
    })
  } else {
    for (let i = 0; i < segments.length; i++) run.take(segments[i]!, actual[i + 1]!)
  }

  // Query, by name, in any order.
  const parameters = matcher.parameters
  const counts = new Array<number>(parameters.length).fill(0)
  const length = query.length
  let start = 0
  while (start < length) {
    let end = query.indexOf("&", start)
    if (end === -1) end = length
    if (end > start) {
      let equals = query.indexOf("=", start)
      if (equals === -1 || equals > end) equals = end
      const rawName = query.slice(start, equals)
      let name: string | undefined
      try {
        name = decodeQuery(rawName)
      } catch {
        run.fail({
          code: "malformed-encoding",
          message: `query parameter name ${quote(rawName)} has malformed percent-encoding`
        })
      }
      if (name !== undefined) {
        const parameter = matcher.byName.get(name)
        if (parameter === undefined) {
          if (allowed !== undefined && !allowed.includes(name)) {
            run.fail({
              code: "unknown-parameter",
              message: `query parameter ${quote(name)} is not in the template`,
              parameter: name
            })
          }
        } else if (++counts[parameter.index]! === 1) {
          run.take(parameter.pattern, equals < end ? query.slice(equals + 1, end) : "")
        }
      }
    }
    start = end + 1
  }
  for (const parameter of parameters) {
    const count = counts[parameter.index]!
    if (count === 1) continue
    const { name, pattern } = parameter
    run.fail(
      count === 0
        ? {
            code: "missing-parameter",
            message: `missing query parameter ${quote(name)} (the template expects ${pattern.expected})`,
            parameter: name
          }
        : {
            code: "duplicate-parameter",
            message: `query parameter ${quote(name)} appears ${count} times, the template expects it once`,
            parameter: name
          }
    )
  }

  // Fragment, only when it carries a macro.
  const fragmentPattern = matcher.fragment
  if (fragmentPattern !== undefined) {
    if (fragment === undefined) {
      run.fail({
        code: "missing-fragment",
        message: `the URL has no fragment, the template expects ${fragmentPattern.expected} there (HTTP clients do not send fragments)`,
        macro: fragmentPattern.macro!
      })
    } else {
      run.take(fragmentPattern, fragment)
    }
  }

  if (run.errors !== undefined) return { ok: false, errors: run.errors }

  const names = matcher.macros
  const fields: Record<string, unknown> = {}
  for (const field of WIRE_FIELDS) {
    const slot = names.indexOf(field)
    if (slot !== -1) fields[field] = run.values[slot]
  }
  const payload: Record<string, string> = {}
  for (let slot = 0; slot < names.length; slot++) {
    const name = names[slot]!
    if (isWireField(name)) continue
    // A payload key named "__proto__" must stay a key, not set the prototype.
    if (name === "__proto__") {
      Object.defineProperty(payload, name, {
        value: run.values[slot],
        enumerable: true,
        writable: true,
        configurable: true
      })
    } else {
      payload[name] = run.values[slot]!
    }
  }
  fields.payload = payload
  return { ok: true, fields: fields as unknown as MatchedFields }
}

const invalidUrl = (url: string): MatchResult => ({
  ok: false,
  errors: [
    {
      code: "invalid-url",
      message: `not a URL: expected an absolute URL or a path starting with "/", got ${describe(url)}`
    }
  ]
})
