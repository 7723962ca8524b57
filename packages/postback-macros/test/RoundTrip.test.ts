import { describe, expect, it } from "@effect/vitest"
import { type Postback, WIRE_FIELDS, wireValue } from "@org/postback-schema"
import * as fc from "fast-check"
import { match, parseTemplate, render } from "../src/index.ts"
import { PAYLOAD_KEYS, postback, text } from "./fixtures.ts"

const MACRO_NAMES: ReadonlyArray<string> = [...WIRE_FIELDS, ...PAYLOAD_KEYS]

/** One component of a generated template: literal text, optionally around one macro. */
interface Piece {
  readonly prefix: string
  readonly macro: string | null
  readonly suffix: string
}

const piece = (literal: fc.Arbitrary<string>): fc.Arbitrary<Piece> =>
  fc.record({
    prefix: literal,
    macro: fc.option(fc.constantFrom(...MACRO_NAMES), { freq: 3 }),
    suffix: literal
  })

// Literal text is any text, percent-encoded the way a template author would.
const literal = text().map(encodeURIComponent)
// A path segment's literal text must not be able to form "." or ".." with a value.
const segmentLiteral = literal.filter((s) => !/^\.+$/.test(s))

const generated = fc.record({
  path: fc.array(piece(segmentLiteral), { maxLength: 3 }),
  query: fc.uniqueArray(fc.record({ name: text({ minLength: 1 }), value: piece(literal) }), {
    selector: (parameter) => parameter.name,
    maxLength: 5
  }),
  fragment: fc.option(piece(literal))
})

const pieceText = ({ prefix, macro, suffix }: Piece): string =>
  `${prefix}${macro === null ? "" : `{${macro}}`}${suffix}`

const templateText = (t: typeof generated extends fc.Arbitrary<infer T> ? T : never): string =>
  `https://api.example.com${t.path.map((p) => `/${pieceText(p)}`).join("")}${
    t.query.length === 0
      ? ""
      : `?${t.query.map((q) => `${encodeURIComponent(q.name)}=${pieceText(q.value)}`).join("&")}`
  }${t.fragment === null ? "" : `#${pieceText(t.fragment)}`}`

/** What `match` must give back: each macro's wire value, absent payload keys rendered empty. */
const expectedFields = (names: ReadonlyArray<string>, p: Postback) => {
  const fields: Record<string, unknown> = {}
  const payload: Record<string, string> = {}
  for (const field of WIRE_FIELDS) if (names.includes(field)) fields[field] = wireValue(p, field)
  for (const name of names) {
    if (!(WIRE_FIELDS as ReadonlyArray<string>).includes(name))
      payload[name] = p.payload[name] ?? ""
  }
  return { ...fields, payload }
}

describe("render and match", () => {
  it("match(t, render(t, p)) gives back p's fields, from the text and from a WHATWG URL", () => {
    fc.assert(
      fc.property(generated, postback, (generatedTemplate, p) => {
        const template = parseTemplate(templateText(generatedTemplate))
        const names = template.parts.flatMap((part) => (part._tag === "Macro" ? [part.name] : []))
        const url = render(template, p)
        const expected = { ok: true, fields: expectedFields(names, p) }
        expect(match(template, url)).toEqual(expected)
        // What a sender's HTTP client and a receiver's Request see is the URL
        // after WHATWG parsing: rendering must already be in that form.
        const parsed = new URL(url)
        expect(parsed.href).toBe(url)
        expect(match(template, parsed)).toEqual(expected)
        // As a receiver on Node sees it (req.url: path and query).
        expect(match(template, url.slice(parsed.origin.length))).toEqual(expected)
        // URLSearchParams, an independent decoder, reads each query macro's value.
        for (const { name, value } of generatedTemplate.query) {
          if (value.macro === null) continue
          const fields = expected.fields as Record<string, unknown>
          const macroValue = (fields[value.macro] ??
            (fields.payload as Record<string, string>)[value.macro]) as string
          expect(parsed.searchParams.get(name)).toBe(
            `${decodeURIComponent(value.prefix)}${macroValue}${decodeURIComponent(value.suffix)}`
          )
        }
      }),
      { numRuns: 400 }
    )
  })

  it("query parameter order does not matter", () => {
    fc.assert(
      fc.property(postback, fc.infiniteStream(fc.nat()), (p, seeds) => {
        const template = parseTemplate(
          "https://h.example/pb?amount={payout}&uid={user_id}&oid={offer_id}&adv={advertiser_name}&ts={timestamp}&lb={is_loyaltyboost}"
        )
        const url = new URL(render(template, p))
        const pairs = url.search.slice(1).split("&")
        // Fisher-Yates with generated randomness, so a failure shrinks and replays.
        const random = seeds[Symbol.iterator]()
        for (let i = pairs.length - 1; i > 0; i--) {
          const j = random.next().value! % (i + 1)
          ;[pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!]
        }
        expect(match(template, `/pb?${pairs.join("&")}`)).toEqual(match(template, url))
      }),
      { numRuns: 100 }
    )
  })
})
