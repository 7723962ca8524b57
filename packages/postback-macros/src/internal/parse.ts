import { isWireField } from "@org/postback-schema/plain"
import type {
  MacroLocation,
  MacroPart,
  MacroTemplate,
  TemplatePart,
  TemplateProblem
} from "../MacroTemplate.ts"
import {
  decodeComponent,
  decodeQuery,
  type Encoder,
  encodeFragment,
  encodeNonAscii,
  encodePathSegment,
  encodeQueryValue,
  escapeTable,
  LITERAL_RAW
} from "./encoding.ts"
import type { Matcher, ParameterPattern, Program, Slot, ValuePattern } from "./program.ts"

/** `{...}` in the template: `name` is undefined when the macro is malformed (already reported). */
interface Span {
  readonly start: number
  readonly end: number
  readonly name: string | undefined
}

const MACRO_NAME = /^[A-Za-z0-9_]+$/
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/
// Stands in for macro text while looking for URL delimiters: never a delimiter itself.
const MASK = "\uE000"

const quote = (text: string): string => JSON.stringify(text)

/**
 * Finds every `{...}`, reporting unbalanced, nested, empty and badly named
 * macros. Recovery keeps going so that one pass reports every problem.
 */
const lex = (source: string, problems: Array<TemplateProblem>): Array<Span> => {
  const spans: Array<Span> = []
  const length = source.length
  // The balanced "}" of each "{" (-1 when none), in one pass, so that telling
  // nested from unclosed braces stays linear even on text full of braces.
  const closing = new Int32Array(length).fill(-1)
  const open: Array<number> = []
  for (let j = 0; j < length; j++) {
    if (source[j] === "{") open.push(j)
    else if (source[j] === "}" && open.length > 0) closing[open.pop()!] = j
  }
  let i = 0
  while (i < length) {
    const char = source[i]
    if (char === "}") {
      problems.push({
        position: i,
        message: `unbalanced "}" with no "{" before it (write %7D for a literal "}")`
      })
      spans.push({ start: i, end: i + 1, name: undefined })
      i++
      continue
    }
    if (char !== "{") {
      i++
      continue
    }
    let close = i + 1
    while (close < length && source[close] !== "{" && source[close] !== "}") close++
    if (close < length && source[close] === "}") {
      const name = source.slice(i + 1, close)
      let valid: string | undefined = name
      if (name === "") {
        problems.push({ position: i, message: `empty macro "{}": write a name such as {payout}` })
        valid = undefined
      } else if (!MACRO_NAME.test(name)) {
        const bad = name.search(/[^A-Za-z0-9_]/)
        problems.push({
          position: i + 1 + bad,
          message: `invalid macro name ${quote(name)}: ${quote(String.fromCodePoint(name.codePointAt(bad)!))} is not allowed (use letters, digits and underscores)`
        })
        valid = undefined
      }
      spans.push({ start: i, end: close + 1, name: valid })
      i = close + 1
      continue
    }
    // Another "{" (or the end) before any "}". If this "{" has a balanced
    // "}", the inner one is a nested macro; otherwise it is never closed.
    const end = closing[i]! === -1 ? -1 : closing[i]! + 1
    if (close < length && end !== -1) {
      problems.push({
        position: close,
        message: `nested "{" inside the macro opened at ${i}: macros cannot contain macros`
      })
      spans.push({ start: i, end, name: undefined })
      i = end
    } else {
      problems.push({
        position: i,
        message: `unclosed "{": a macro ends with "}" (write %7B for a literal "{")`
      })
      spans.push({ start: i, end: i + 1, name: undefined })
      i++
    }
  }
  return spans
}

const isHex = (code: number): boolean =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 70) || (code >= 97 && code <= 102)

const LITERAL_TABLE = escapeTable(LITERAL_RAW)
// WHATWG URL encodes "'" in the query of http(s) URLs; doing the same keeps
// a rendered URL identical to `new URL(rendered).href`.
const QUERY_LITERAL_TABLE = escapeTable(LITERAL_RAW.replace("'", ""))

/**
 * The canonical URL text of a literal stretch of the template: valid percent
 * escapes and URL characters are kept as written, other characters are
 * percent-encoded; whitespace, control characters, backslashes and stray `%`
 * are reported.
 */
const literalText = (
  source: string,
  start: number,
  end: number,
  problems: Array<TemplateProblem>,
  table: ReadonlyArray<string | undefined> = LITERAL_TABLE
): string => {
  let out = ""
  for (let i = start; i < end; i++) {
    const code = source.charCodeAt(i)
    if (code === 0x25) {
      if (i + 2 < end && isHex(source.charCodeAt(i + 1)) && isHex(source.charCodeAt(i + 2))) {
        out += source.slice(i, i + 3)
        i += 2
      } else {
        out += "%25"
        problems.push({
          position: i,
          message: `"%" must start a percent-escape such as %20 (write %25 for a literal "%")`
        })
      }
    } else if (code <= 0x20 || code === 0x7f) {
      problems.push({
        position: i,
        message:
          code === 0x20
            ? `a space must be percent-encoded (%20)`
            : `control or whitespace character U+${code.toString(16).toUpperCase().padStart(4, "0")} must be percent-encoded`
      })
    } else if (code === 0x5c) {
      problems.push({
        position: i,
        message: `backslash is not allowed: URL parsers read it as "/" (write %5C for a literal "\\")`
      })
    } else if (code < 0x80) {
      out += table[code] ?? source[i]
    } else {
      let stop = i + 1
      while (stop < end && source.charCodeAt(stop) >= 0x80) stop++
      out += encodeNonAscii(source.slice(i, stop))
      i = stop - 1
    }
  }
  return out
}

const decodeOrReport = (
  text: string,
  decode: (text: string) => string,
  position: number,
  problems: Array<TemplateProblem>
): string => {
  try {
    return decode(text)
  } catch {
    problems.push({
      position,
      message: `percent-escapes in ${quote(text)} do not decode to UTF-8 text`
    })
    return text
  }
}

/** `%2e` counts as `.`: URL parsers treat both the same in path segments. */
export const isDotSegment = (segment: string): boolean => {
  // Cheap exits first: this runs on every render of a path-segment macro.
  const first = segment.charCodeAt(0)
  if ((first !== 46 && first !== 37) || segment.length > 6) return false
  const dots = segment.replace(/%2e/gi, ".")
  return dots === "." || dots === ".."
}

export type ParseResult =
  | { readonly ok: true; readonly template: MacroTemplate; readonly program: Program }
  | { readonly ok: false; readonly problems: ReadonlyArray<TemplateProblem> }

/** Builds the part list and the render program side by side. */
class Builder {
  readonly parts: Array<TemplatePart> = []
  readonly literals: Array<string> = []
  readonly slots: Array<Slot> = []
  private text = ""
  private textPosition = 0

  literal(text: string, position: number): void {
    if (text === "") return
    if (this.text === "") this.textPosition = position
    this.text += text
  }

  macro(span: Span & { readonly name: string }, slot: Omit<Slot, "name" | "field" | "kept">): void {
    this.flush()
    const field = isWireField(span.name) ? span.name : undefined
    const part: MacroPart = Object.freeze({
      _tag: "Macro",
      name: span.name,
      position: span.start,
      kind: field === undefined ? "payload" : "field",
      location: Object.freeze(slot.location)
    })
    this.parts.push(part)
    this.slots.push({
      ...slot,
      name: span.name,
      field,
      kept: slot.encode(`{${span.name}}`)
    })
  }

  finish(): void {
    this.flush()
  }

  private flush(): void {
    this.literals.push(this.text)
    if (this.text !== "") {
      this.parts.push(
        Object.freeze({ _tag: "Literal", text: this.text, position: this.textPosition })
      )
    }
    this.text = ""
  }
}

/** Parses and compiles a template, or returns every problem found. */
export const parse = (source: string): ParseResult => {
  const problems: Array<TemplateProblem> = []
  const spans = lex(source, problems)
  const length = source.length

  let masked = source
  if (spans.length > 0) {
    let out = ""
    let last = 0
    for (const span of spans) {
      out += source.slice(last, span.start) + MASK.repeat(span.end - span.start)
      last = span.end
    }
    masked = out + source.slice(last)
  }
  // Spans are in order: binary search keeps this cheap on templates with many macros.
  const spansIn = (start: number, end: number): Array<Span> => {
    let low = 0
    let high = spans.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (spans[middle]!.start < start) low = middle + 1
      else high = middle
    }
    const found: Array<Span> = []
    for (let k = low; k < spans.length && spans[k]!.start < end; k++) found.push(spans[k]!)
    return found
  }
  const firstOf = (chars: string, from: number): number => {
    for (let i = from; i < length; i++) if (chars.includes(masked[i]!)) return i
    return length
  }
  const fail = (): ParseResult => ({
    ok: false,
    problems: problems.sort((a, b) => a.position - b.position)
  })

  // Scheme: http or https, then "//". Without them the structure is unknown.
  const colon = masked.indexOf(":")
  const slash = masked.indexOf("/")
  const schemeText = colon > 0 ? masked.slice(0, colon) : ""
  const schemeSpans = colon > 0 && (slash === -1 || colon < slash) ? spansIn(0, colon) : []
  for (const span of schemeSpans) {
    if (span.name === undefined) continue // already reported as malformed
    problems.push({
      position: span.start,
      message: `macro ${source.slice(span.start, span.end)} is not allowed in the scheme`
    })
  }
  if (schemeSpans.length > 0) return fail()
  if (!SCHEME.test(schemeText) || (slash !== -1 && slash < colon)) {
    problems.push({
      position: 0,
      message: `the template must be an absolute URL such as "https://example.com/postbacks?payout={payout}" (relative templates are not accepted)`
    })
    return fail()
  }
  const scheme = schemeText.toLowerCase()
  if (scheme !== "http" && scheme !== "https") {
    problems.push({
      position: 0,
      message: `unsupported scheme ${quote(schemeText)}: postback URLs use http or https`
    })
    return fail()
  }
  if (masked.slice(colon + 1, colon + 3) !== "//") {
    problems.push({ position: colon + 1, message: `expected "//" after "${schemeText}:"` })
    return fail()
  }

  // Authority: literal only, checked and canonicalized by the platform's URL parser.
  const authorityStart = colon + 3
  const authorityEnd = firstOf("/?#", authorityStart)
  const authoritySpans = spansIn(authorityStart, authorityEnd)
  let origin = `${scheme}://`
  for (const span of authoritySpans) {
    if (span.name === undefined) continue // already reported as malformed
    problems.push({
      position: span.start,
      message: `macro ${source.slice(span.start, span.end)} is not allowed in the host or port: macros go in the path, query values or fragment`
    })
  }
  if (authoritySpans.length === 0) {
    const authority = source.slice(authorityStart, authorityEnd)
    let url: URL | undefined
    try {
      url = authority === "" ? undefined : new URL(`${scheme}://${authority}/`)
    } catch {
      url = undefined
    }
    if (authority === "") {
      problems.push({ position: authorityStart, message: `missing host after "${schemeText}://"` })
    } else if (url === undefined || url.pathname !== "/" || url.search !== "" || url.hash !== "") {
      problems.push({
        position: authorityStart,
        message: `invalid host or port ${quote(authority)}`
      })
    } else if (url.username !== "" || url.password !== "") {
      problems.push({
        position: authorityStart,
        message: `credentials ("user:password@") are not allowed in a postback URL`
      })
    } else {
      origin = `${url.protocol}//${url.host}`
    }
  }

  const builder = new Builder()
  builder.literal(origin, 0)

  /** One macro at most per component, with literal text around it. */
  const component = (
    start: number,
    end: number,
    where: string,
    table: ReadonlyArray<string | undefined> = LITERAL_TABLE
  ): { readonly span: Span | undefined; readonly prefix: string; readonly suffix: string } => {
    const all = spansIn(start, end)
    const inside = all.filter((span) => span.name !== undefined)
    if (inside.length < all.length) {
      // A malformed macro is already reported and the template refused: just
      // check the literal text between the braces.
      let from = start
      for (const span of all) {
        literalText(source, from, span.start, problems, table)
        from = span.end
      }
      literalText(source, from, end, problems, table)
      return { span: undefined, prefix: "", suffix: "" }
    }
    const first = inside[0]
    for (const extra of inside.slice(1)) {
      problems.push({
        position: extra.start,
        message: `only one macro per ${where}: ${source.slice(extra.start, extra.end)} follows ${source.slice(first!.start, first!.end)}, so a receiver could not tell where one value ends and the next begins`
      })
    }
    if (first === undefined) {
      return {
        span: undefined,
        prefix: literalText(source, start, end, problems, table),
        suffix: ""
      }
    }
    const last = inside[inside.length - 1]!
    return {
      span: first,
      prefix: literalText(source, start, first.start, problems, table),
      suffix: literalText(source, last.end, end, problems, table)
    }
  }

  const matchedMacros: Array<string> = []
  const pattern = (
    parsed: { readonly span: Span | undefined; readonly prefix: string; readonly suffix: string },
    position: number,
    label: string,
    parameter: string | undefined
  ): ValuePattern => {
    const form = parameter !== undefined
    const decode = form ? decodeQuery : decodeComponent
    const macro = parsed.span?.name
    const prefix = decodeOrReport(parsed.prefix, decode, position, problems)
    if (macro === undefined) {
      return {
        label,
        parameter,
        form,
        macro,
        slot: -1,
        prefix,
        suffix: "",
        expected: quote(prefix)
      }
    }
    const suffix = decodeOrReport(parsed.suffix, decode, parsed.span!.end, problems)
    let slot = matchedMacros.indexOf(macro)
    if (slot === -1) slot = matchedMacros.push(macro) - 1
    return {
      label,
      parameter,
      form,
      macro,
      slot,
      prefix,
      suffix,
      expected: quote(`${prefix}{${macro}}${suffix}`)
    }
  }

  const emit = (
    parsed: { readonly span: Span | undefined; readonly prefix: string; readonly suffix: string },
    position: number,
    location: MacroLocation,
    encode: Encoder,
    dotGuard: Slot["dotGuard"]
  ): void => {
    builder.literal(parsed.prefix, position)
    const span = parsed.span
    if (span?.name !== undefined) {
      builder.macro({ ...span, name: span.name }, { encode, location, dotGuard })
      builder.literal(parsed.suffix, span.end)
    }
  }

  // Path: segment by segment; the empty path is "/".
  const pathEnd = firstOf("?#", authorityEnd)
  const segments: Array<ValuePattern> = []
  let segmentStart = authorityEnd + 1
  if (authorityEnd === pathEnd) {
    builder.literal("/", authorityEnd)
    segments.push(
      pattern(
        { span: undefined, prefix: "", suffix: "" },
        authorityEnd,
        "path segment 1",
        undefined
      )
    )
  } else {
    while (segmentStart <= pathEnd) {
      let segmentEnd = masked.indexOf("/", segmentStart)
      if (segmentEnd === -1 || segmentEnd > pathEnd) segmentEnd = pathEnd
      const index = segments.length
      const parsed = component(segmentStart, segmentEnd, "path segment")
      const segment = pattern(parsed, segmentStart, `path segment ${index + 1}`, undefined)
      if (segment.macro === undefined && (segment.prefix === "." || segment.prefix === "..")) {
        problems.push({
          position: segmentStart,
          message: `path segment ${quote(parsed.prefix)} is a dot segment, which URL parsers remove`
        })
      }
      const around = parsed.prefix + parsed.suffix
      const dotGuard = around === "" || isDotSegment(around) ? parsed : undefined
      builder.literal("/", segmentStart - 1)
      emit(
        parsed,
        segmentStart,
        { component: "path", segment: index },
        encodePathSegment,
        dotGuard && { prefix: dotGuard.prefix, suffix: dotGuard.suffix }
      )
      segments.push(segment)
      segmentStart = segmentEnd + 1
    }
  }

  // Query: name=value pairs; names are literal and unique.
  const parameters: Array<ParameterPattern> = []
  const byName = new Map<string, ParameterPattern>()
  const firstSeen = new Map<string, number>()
  let queryEnd = pathEnd
  if (masked[pathEnd] === "?") {
    queryEnd = firstOf("#", pathEnd + 1)
    let pieceStart = pathEnd + 1
    while (pieceStart <= queryEnd) {
      let pieceEnd = masked.indexOf("&", pieceStart)
      if (pieceEnd === -1 || pieceEnd > queryEnd) pieceEnd = queryEnd
      if (pieceEnd > pieceStart) {
        let equals = masked.indexOf("=", pieceStart)
        if (equals >= pieceEnd) equals = -1
        const nameEnd = equals === -1 ? pieceEnd : equals
        for (const span of spansIn(pieceStart, nameEnd)) {
          if (span.name === undefined) continue // already reported as malformed
          problems.push({
            position: span.start,
            message: `macro ${source.slice(span.start, span.end)} is not allowed in a query parameter name: write name=${source.slice(span.start, span.end)}`
          })
        }
        const nameText = literalText(source, pieceStart, nameEnd, problems, QUERY_LITERAL_TABLE)
        const name = decodeOrReport(nameText, decodeQuery, pieceStart, problems)
        if (nameEnd === pieceStart) {
          problems.push({ position: pieceStart, message: "query parameter without a name" })
        } else if (firstSeen.has(name)) {
          problems.push({
            position: pieceStart,
            message: `query parameter ${quote(name)} appears twice (first at ${firstSeen.get(name)}): each parameter may appear once`
          })
        } else {
          firstSeen.set(name, pieceStart)
        }
        builder.literal(parameters.length === 0 ? "?" : "&", pieceStart - 1)
        builder.literal(nameText, pieceStart)
        const valueStart = equals === -1 ? pieceEnd : equals + 1
        const parsed = component(valueStart, pieceEnd, "query value", QUERY_LITERAL_TABLE)
        if (equals !== -1) builder.literal("=", equals)
        emit(
          parsed,
          valueStart,
          { component: "query", parameter: name },
          encodeQueryValue,
          undefined
        )
        const parameter: ParameterPattern = {
          name,
          pattern: pattern(parsed, valueStart, `query parameter ${quote(name)}`, name),
          index: parameters.length
        }
        parameters.push(parameter)
        if (!byName.has(name)) byName.set(name, parameter)
      }
      pieceStart = pieceEnd + 1
    }
  }

  // Fragment: rendered, but matched only when it holds a macro (HTTP clients never send it).
  let fragment: ValuePattern | undefined
  if (masked[queryEnd] === "#" && queryEnd + 1 < length) {
    const parsed = component(queryEnd + 1, length, "fragment")
    builder.literal("#", queryEnd)
    emit(parsed, queryEnd + 1, { component: "fragment" }, encodeFragment, undefined)
    const value = pattern(parsed, queryEnd + 1, "the fragment", undefined)
    fragment = value.macro === undefined ? undefined : value
  }

  if (problems.length > 0) return fail()
  builder.finish()

  const matcher: Matcher = {
    segments,
    pathText: source.slice(authorityEnd, pathEnd) || "/",
    parameters,
    byName,
    fragment,
    macros: matchedMacros
  }
  const template: MacroTemplate = Object.freeze({
    source,
    origin,
    parts: Object.freeze(builder.parts)
  })
  return {
    ok: true,
    template,
    program: { literals: builder.literals, slots: builder.slots, matcher }
  }
}
