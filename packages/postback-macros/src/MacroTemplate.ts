import { parse } from "./internal/parse.ts"
import { describe, programOf, register } from "./internal/program.ts"

/**
 * Where a macro stands in the URL, which decides how its value is
 * percent-encoded and how `match` finds it again.
 *
 * - `path`: inside the path segment at index `segment` (0-based; in
 *   `/postbacks/{user_id}` the macro is in segment 1)
 * - `query`: the value of the query parameter `parameter` (decoded name)
 * - `fragment`: after `#`
 */
export type MacroLocation =
  | { readonly component: "path"; readonly segment: number }
  | { readonly component: "query"; readonly parameter: string }
  | { readonly component: "fragment" }

/** Literal URL text, in canonical form (characters a URL cannot hold raw are percent-encoded). */
export interface LiteralPart {
  readonly _tag: "Literal"
  readonly text: string
  /** 0-based index in the template text where this literal text starts. */
  readonly position: number
}

/** A `{macro}`. */
export interface MacroPart {
  readonly _tag: "Macro"
  /** The name between the braces (`payout`, `user_id`). */
  readonly name: string
  /** 0-based index of the `{` in the template text. */
  readonly position: number
  /** `field` for the five built-in fields, `payload` for any other name. */
  readonly kind: "field" | "payload"
  readonly location: MacroLocation
}

/** One piece of a template: rendering writes the literals as they are and fills the macros. */
export type TemplatePart = LiteralPart | MacroPart

/**
 * A parsed, immutable `{macro}` URL template. Build it once with
 * {@link parseTemplate}; {@link render}, {@link match}, {@link macros} and
 * {@link validate} reuse its compiled form. The object and its parts are frozen.
 */
export interface MacroTemplate {
  /** The template text as given. */
  readonly source: string
  /** Scheme, host and port in canonical form (`https://api.example.com`). */
  readonly origin: string
  /** Literal and macro parts in order; concatenated they are the rendered URL. */
  readonly parts: ReadonlyArray<TemplatePart>
}

/** One thing wrong with a template text. */
export interface TemplateProblem {
  /** 0-based index in the template text (a JavaScript string index). */
  readonly position: number
  readonly message: string
}

/** Thrown by {@link parseTemplate}: every problem found in the text, in order of position. */
export class TemplateError extends Error {
  override readonly name: "TemplateError" = "TemplateError"
  /** The template text that was refused. */
  readonly source: string
  readonly problems: ReadonlyArray<TemplateProblem>

  constructor(source: string, problems: ReadonlyArray<TemplateProblem>) {
    const list = problems.map((problem) => `at ${problem.position}: ${problem.message}`)
    super(
      `invalid postback URL template ${JSON.stringify(source)}: ${problems.length === 1 ? list[0] : `${problems.length} problems; ${list.join("; ")}`}`
    )
    this.source = source
    this.problems = problems
  }
}

/**
 * Parses a template once into an immutable {@link MacroTemplate}, or throws a
 * {@link TemplateError} listing every problem with its position.
 *
 * Rules: an absolute `http` or `https` URL; macros only in path segments,
 * query values and the fragment, at most one per segment, value or fragment;
 * query parameter names literal and unique; literal `{` and `}` written
 * `%7B` and `%7D`.
 *
 * @example
 * import { parseTemplate } from "@org/postback-macros"
 *
 * const template = parseTemplate(
 *   "https://api.example.com/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}"
 * )
 * template.parts.length // 6: literal, macro, literal, macro, literal, macro
 */
export const parseTemplate = (text: string): MacroTemplate => {
  if (typeof text !== "string") {
    throw new TypeError(`parseTemplate: text must be a string, got ${describe(text)}`)
  }
  const result = parse(text)
  if (!result.ok) throw new TemplateError(text, result.problems)
  register(result.template, result.program)
  return result.template
}

/**
 * The distinct macro names of a template, in order of first appearance.
 *
 * @example
 * macros(parseTemplate("https://h/pb/{user_id}?a={payout}&b={user_id}")) // ["user_id", "payout"]
 */
export const macros = (template: MacroTemplate): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const slot of programOf(template, "macros").slots) names.add(slot.name)
  return Object.freeze([...names])
}
