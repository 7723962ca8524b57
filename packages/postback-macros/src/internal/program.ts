import type { WireField } from "@org/postback-schema/plain"
import type { MacroLocation, MacroTemplate } from "../MacroTemplate.ts"
import type { Encoder } from "./encoding.ts"

/** One macro as the renderer sees it: where its value comes from and how it is encoded. */
export interface Slot {
  readonly name: string
  /** The built-in field, or `undefined` for a payload key. */
  readonly field: WireField | undefined
  readonly encode: Encoder
  /** What the `keep` policy writes: the macro's own text, encoded for its component. */
  readonly kept: string
  readonly location: MacroLocation
  /**
   * Set for a path-segment macro whose segment could come out as `.` or `..`,
   * which URL parsers remove instead of sending: the literal text around it.
   */
  readonly dotGuard: { readonly prefix: string; readonly suffix: string } | undefined
}

/**
 * What one component of an incoming URL (a path segment, a query value, the
 * fragment) must look like, decoded. One shape for all, so the matcher's hot
 * loop stays monomorphic; labels are built once here, not per request.
 */
export interface ValuePattern {
  /** For messages: `path segment 2`, `query parameter "amount"`, `the fragment`. */
  readonly label: string
  /** The query parameter's decoded name, or `undefined` outside the query. */
  readonly parameter: string | undefined
  /** Query values are form-decoded (`+` is a space); segments and fragment are not. */
  readonly form: boolean
  /** The macro, or `undefined` when the component is literal text only. */
  readonly macro: string | undefined
  /** Index of the macro in {@link Matcher.macros}, -1 when there is none. */
  readonly slot: number
  /** Decoded literal text before the macro (the whole text when there is no macro). */
  readonly prefix: string
  /** Decoded literal text after the macro. */
  readonly suffix: string
  /** The template's text for messages, quoted: `"pb-{offer_id}"`, `"ms"`. */
  readonly expected: string
}

export interface ParameterPattern {
  /** The decoded parameter name. */
  readonly name: string
  readonly pattern: ValuePattern
  readonly index: number
}

export interface Matcher {
  /** One pattern per path segment (the canonical path `/` is one empty segment). */
  readonly segments: ReadonlyArray<ValuePattern>
  /** The template's path, for messages. */
  readonly pathText: string
  readonly parameters: ReadonlyArray<ParameterPattern>
  readonly byName: ReadonlyMap<string, ParameterPattern>
  /** Only when the fragment holds a macro: a literal fragment is never sent, so never checked. */
  readonly fragment: ValuePattern | undefined
  /** The distinct macros the matcher can fill, indexed by {@link ValuePattern.slot}. */
  readonly macros: ReadonlyArray<string>
}

/**
 * A parsed template compiled for rendering and matching. `literals` has one
 * entry more than `slots`: the output is `literals[0] + slot0 + literals[1] + ...`.
 */
export interface Program {
  readonly literals: ReadonlyArray<string>
  readonly slots: ReadonlyArray<Slot>
  readonly matcher: Matcher
}

// The compiled program stays out of the public, frozen AST; only templates
// built by parseTemplate are registered, so a look-alike object is refused.
const programs = new WeakMap<MacroTemplate, Program>()

export const register = (template: MacroTemplate, program: Program): void => {
  programs.set(template, program)
}

export const programOf = (template: MacroTemplate, caller: string): Program => {
  const program = typeof template === "object" && template !== null && programs.get(template)
  if (!program) {
    throw new TypeError(
      `${caller}: template must be a MacroTemplate returned by parseTemplate, got ${describe(template)}`
    )
  }
  return program
}

/** A short description of an unexpected value, for error messages. */
export const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case "object":
      return "an object"
    case "function":
      return "a function"
    default:
      return String(value)
  }
}
