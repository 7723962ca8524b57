import { isWireField, WIRE_FIELDS } from "@org/postback-schema/plain"
import { describe, programOf } from "./internal/program.ts"
import type { MacroTemplate } from "./MacroTemplate.ts"

/**
 * Something in a valid template that will not work as its author probably
 * expects.
 *
 * - `unknown-macro`: a payload macro whose key is not among `knownPayloadKeys`
 *   (or, without that list, a name that differs from a built-in only by case,
 *   such as `{Payout}`): it can never be filled, so it always renders by the
 *   missing-value policy
 * - `fragment-macro`: a macro in the fragment, which HTTP clients never send,
 *   so a receiver cannot recover it with `match`
 */
export interface TemplateWarning {
  readonly code: "unknown-macro" | "fragment-macro"
  readonly macro: string
  /** 0-based index of the macro's `{` in the template text. */
  readonly position: number
  readonly message: string
}

export interface ValidateOptions {
  /**
   * The payload keys the publisher passes when serving offers (`user_id`,
   * `session_id`, ...). Without it, payload macros are assumed fillable.
   */
  readonly knownPayloadKeys?: Iterable<string> | undefined
}

const knownKeys = (options: ValidateOptions | undefined): ReadonlySet<string> | undefined => {
  if (options === undefined) return undefined
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`validate: options must be an object, got ${describe(options)}`)
  }
  for (const key in options) {
    if (key !== "knownPayloadKeys") {
      throw new TypeError(
        `validate: unknown option ${JSON.stringify(key)} (known: knownPayloadKeys)`
      )
    }
  }
  const keys = options.knownPayloadKeys
  if (keys === undefined) return undefined
  if (typeof keys === "string" || typeof keys?.[Symbol.iterator] !== "function") {
    throw new TypeError(
      `validate: option "knownPayloadKeys" must be an array (or iterable) of key names, got ${describe(keys)}`
    )
  }
  const set = new Set<string>()
  for (const key of keys) {
    if (typeof key !== "string") {
      throw new TypeError(
        `validate: option "knownPayloadKeys" must hold strings, got ${describe(key)}`
      )
    }
    set.add(key)
  }
  return set
}

/**
 * Warnings for a parsed template, for dashboards and configuration checks
 * (errors are already refused by `parseTemplate`). An empty array means
 * nothing to report.
 *
 * @example
 * validate(parseTemplate("https://h/pb?uid={user_id}&c={click_id}"), { knownPayloadKeys: ["user_id"] })
 * // [{ code: "unknown-macro", macro: "click_id", position: 27, message: "..." }]
 */
export const validate = (
  template: MacroTemplate,
  options?: ValidateOptions
): ReadonlyArray<TemplateWarning> => {
  programOf(template, "validate")
  const known = knownKeys(options)
  const warnings: Array<TemplateWarning> = []
  for (const part of template.parts) {
    if (part._tag !== "Macro") continue
    const { name, position } = part
    if (!isWireField(name) && !known?.has(name)) {
      const builtin = WIRE_FIELDS.find((field) => field === name.toLowerCase())
      if (builtin !== undefined) {
        warnings.push({
          code: "unknown-macro",
          macro: name,
          position,
          message: `{${name}} is not the built-in {${builtin}} (macro names are case-sensitive) nor a known payload key, so it is never filled`
        })
      } else if (known !== undefined) {
        warnings.push({
          code: "unknown-macro",
          macro: name,
          position,
          message: `{${name}} is neither a built-in field nor a known payload key, so it is never filled`
        })
      }
    }
    if (part.location.component === "fragment") {
      warnings.push({
        code: "fragment-macro",
        macro: name,
        position,
        message: `{${name}} is in the fragment, which HTTP clients never send: a receiver cannot recover it`
      })
    }
  }
  return warnings
}
