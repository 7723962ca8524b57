// The raw fields of a delivery, whatever its wire form: a plain GET query, a
// GET read through a macro template, a JSON body or a form body. Nothing is
// decided here; ./lenient.ts applies the rules.
import type { MacroTemplate, MatchedFields } from "@org/postback-macros"
import { isWireField, WIRE_FIELDS, type WireField } from "@org/postback-schema/plain"
import type { PostbackFlag } from "../Delivery.ts"
import type { QueryParam } from "./query.ts"

/** A JSON number with the text it was written as (JSON.parse's source text, where the runtime gives it). */
export class JsonNumber {
  constructor(
    readonly value: number,
    readonly text: string
  ) {}
}

/** A parameter given more than once. */
export interface Repeated {
  readonly path: string
  readonly times: number
  /** Whether every copy had the same value (the first is kept either way). */
  readonly same: boolean
}

export interface RawFields {
  readonly fields: Partial<Record<WireField, unknown>>
  /** For a GET read through a template: the parameter that carries each field (`payout` in `amount`). */
  readonly carriers?: ReadonlyMap<string, string>
  readonly payload: Array<readonly [string, unknown]>
  readonly repeated: Array<Repeated>
  readonly flags: Array<PostbackFlag>
}

const empty = (): RawFields => ({ fields: {}, payload: [], repeated: [], flags: [] })

/** Fields and payload from query parameters (GET or form body), the secret left out. */
export const fromParams = (params: ReadonlyArray<QueryParam>, secretParam: string): RawFields => {
  const raw = empty()
  const seen = new Map<string, { value: string; times: number; same: boolean }>()
  for (const { name, value } of params) {
    if (name === secretParam) continue
    const before = seen.get(name)
    if (before !== undefined) {
      before.times++
      before.same &&= before.value === value
      continue
    }
    seen.set(name, { value, times: 1, same: true })
    if (isWireField(name)) raw.fields[name] = value
    else raw.payload.push([name, value])
  }
  for (const [name, { times, same }] of seen) {
    if (times > 1)
      raw.repeated.push({ path: isWireField(name) ? name : `payload.${name}`, times, same })
  }
  return raw
}

/**
 * For each query parameter of the template whose whole value is one macro
 * (`amount={payout}`), the macro's name; `undefined` when some macro sits
 * elsewhere (in the path, the fragment, or beside other text), which only
 * `match` of `@org/postback-macros` can read.
 */
export const wholeValueMacros = (template: MacroTemplate): Map<string, string> | undefined => {
  const byParameter = new Map<string, string>()
  const parts = template.parts
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if (part._tag !== "Macro") continue
    if (part.location.component !== "query") return undefined
    const before = parts[i - 1]
    const after = parts[i + 1]
    const name = part.location.parameter
    const opens =
      before?._tag === "Literal" &&
      (before.text.endsWith(`?${encodeURIComponent(name)}=`) ||
        before.text.endsWith(`&${encodeURIComponent(name)}=`) ||
        before.text.endsWith(`?${name}=`) ||
        before.text.endsWith(`&${name}=`))
    const closes =
      after === undefined ||
      (after._tag === "Literal" && (after.text.startsWith("&") || after.text.startsWith("#")))
    if (!opens || !closes) return undefined
    byParameter.set(name, part.name)
  }
  return byParameter
}

/**
 * Fields from a GET read through a template of whole-value macros: each
 * parameter the template names gives its macro's value; parameters it does
 * not name are not part of the postback (tracking parameters added on the
 * way, the secret), except a postback field's own name for a field the
 * template does not carry.
 */
export const fromTemplateParams = (
  params: ReadonlyArray<QueryParam>,
  macroOf: ReadonlyMap<string, string>,
  secretParam: string
): RawFields => {
  const carried = new Set(macroOf.values())
  const renamed: Array<QueryParam> = []
  for (const { name, value } of params) {
    if (name === secretParam) continue
    const macro = macroOf.get(name)
    if (macro !== undefined) renamed.push({ name: macro, value })
    else if (isWireField(name) && !carried.has(name)) renamed.push({ name, value })
  }
  const carriers = new Map<string, string>()
  for (const [parameter, macro] of macroOf) if (isWireField(macro)) carriers.set(macro, parameter)
  return { ...fromParams(renamed, secretParam), carriers }
}

/** Fields from matched template values (`match` of `@org/postback-macros`). */
export const fromMatched = (fields: MatchedFields): RawFields => {
  const raw = empty()
  for (const name of WIRE_FIELDS) {
    if (fields[name] !== undefined) raw.fields[name] = fields[name]
  }
  for (const [key, value] of Object.entries(fields.payload)) raw.payload.push([key, value])
  return raw
}

/** Fields from a JSON body object; unknown top-level keys are ignored. */
export const fromJson = (body: { readonly [key: string]: unknown }): RawFields => {
  const raw = empty()
  for (const name of WIRE_FIELDS) {
    if (Object.hasOwn(body, name)) raw.fields[name] = body[name]
  }
  const payload = body.payload
  if (payload !== undefined && payload !== null) {
    if (
      typeof payload === "object" &&
      !Array.isArray(payload) &&
      !(payload instanceof JsonNumber)
    ) {
      for (const key of Object.keys(payload)) {
        raw.payload.push([key, (payload as Record<string, unknown>)[key]])
      }
    } else {
      // A payload that is not an object is kept whole, as one entry.
      raw.payload.push(["payload", payload])
      raw.flags.push({
        code: "payload_value_normalized",
        path: "payload",
        message: "the payload is not a JSON object: kept as one entry named payload"
      })
    }
  }
  return raw
}

/**
 * JSON.parse that keeps each number's written text (ES2025 "JSON.parse
 * source text access"; where a runtime lacks it, the text is `String(n)`).
 */
export const parseJson = (text: string): unknown => {
  const value: unknown = JSON.parse(text)
  // Most bodies carry strings only; a reviver costs on every value, so it
  // runs only when some number's written text may matter.
  return hasNumber(value) ? JSON.parse(text, keepNumberText) : value
}

function keepNumberText(
  this: unknown,
  _key: string,
  value: unknown,
  context?: { source?: string }
): unknown {
  return typeof value === "number" ? new JsonNumber(value, context?.source ?? String(value)) : value
}

/** Whether a parsed value holds a number, as text (`JsonNumber`) or not. */
export const containsNumberText = (value: unknown): boolean => {
  if (value instanceof JsonNumber) return true
  if (typeof value !== "object" || value === null) return typeof value === "number"
  if (Array.isArray(value)) return value.some(containsNumberText)
  for (const key in value)
    if (containsNumberText((value as Record<string, unknown>)[key])) return true
  return false
}

const hasNumber = (value: unknown): boolean => {
  if (typeof value === "number") return true
  if (typeof value !== "object" || value === null) return false
  if (Array.isArray(value)) return value.some(hasNumber)
  for (const key in value) if (hasNumber((value as Record<string, unknown>)[key])) return true
  return false
}

/** JSON text of a parsed value, numbers as they were written. */
export const jsonText = (value: unknown): string => {
  if (value instanceof JsonNumber) return value.text
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`
  if (typeof value === "object" && value !== null) {
    return `{${Object.keys(value)
      .map((key) => `${JSON.stringify(key)}:${jsonText((value as Record<string, unknown>)[key])}`)
      .join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}
