import { describe, expect, it } from "@effect/vitest"
import {
  BUILTIN_MACROS,
  isMacroName,
  type MacroTemplate,
  macros,
  parseTemplate,
  render,
  TemplateError,
  type TemplateProblem
} from "../src/index.ts"
import { DOCS_TEMPLATE, docsPostback } from "./fixtures.ts"

const problemsOf = (text: string): ReadonlyArray<TemplateProblem> => {
  try {
    parseTemplate(text)
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError)
    return (error as TemplateError).problems
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`)
}

/** Problems as `position: start of message`, for compact expectations. */
const positions = (text: string): ReadonlyArray<number> =>
  problemsOf(text).map((problem) => problem.position)

describe("macro names", () => {
  it("knows the built-in macros and the payload-key syntax", () => {
    expect(BUILTIN_MACROS).toEqual([
      "offer_id",
      "advertiser_name",
      "payout",
      "timestamp",
      "is_loyaltyboost"
    ])
    expect(isMacroName("user_id")).toBe(true)
    expect(isMacroName("Sub1")).toBe(true)
    expect(isMacroName("user id")).toBe(false)
    expect(isMacroName("user-id")).toBe(false)
    expect(isMacroName("")).toBe(false)
  })
})

describe("parseTemplate", () => {
  it("parses the documentation example into literal and macro parts", () => {
    const template = parseTemplate(DOCS_TEMPLATE)
    expect(template.source).toBe(DOCS_TEMPLATE)
    expect(template.origin).toBe("https://api.example.com")
    expect(template.parts).toEqual([
      { _tag: "Literal", text: "https://api.example.com/postbacks?payout=", position: 0 },
      {
        _tag: "Macro",
        name: "payout",
        position: 41,
        kind: "field",
        location: { component: "query", parameter: "payout" }
      },
      { _tag: "Literal", text: "&user_id=", position: 49 },
      {
        _tag: "Macro",
        name: "user_id",
        position: 58,
        kind: "payload",
        location: { component: "query", parameter: "user_id" }
      },
      { _tag: "Literal", text: "&offer_id=", position: 67 },
      {
        _tag: "Macro",
        name: "offer_id",
        position: 77,
        kind: "field",
        location: { component: "query", parameter: "offer_id" }
      }
    ])
  })

  it("locates macros in path segments, query values and the fragment", () => {
    const template = parseTemplate(
      "https://h.example/u/{user_id}/p-{offer_id}.json?a=x{payout}#{sub1}"
    )
    const locations = template.parts.flatMap((part) =>
      part._tag === "Macro" ? [[part.name, part.location]] : []
    )
    expect(locations).toEqual([
      ["user_id", { component: "path", segment: 1 }],
      ["offer_id", { component: "path", segment: 2 }],
      ["payout", { component: "query", parameter: "a" }],
      ["sub1", { component: "fragment" }]
    ])
  })

  it("returns an immutable template", () => {
    const template = parseTemplate(DOCS_TEMPLATE)
    expect(Object.isFrozen(template)).toBe(true)
    expect(Object.isFrozen(template.parts)).toBe(true)
    for (const part of template.parts) expect(Object.isFrozen(part)).toBe(true)
    expect(() => {
      ;(template as { source: string }).source = "https://evil.example/"
    }).toThrow(TypeError)
    expect(() => (template.parts as Array<unknown>).pop()).toThrow(TypeError)
  })

  it("canonicalizes scheme, host, default port and characters a URL cannot hold raw", () => {
    const template = parseTemplate(
      'HTTPS://API.Example.com:443/caf\u00e9/[x]?n="q\'"&m={payout}#a#b'
    )
    expect(template.origin).toBe("https://api.example.com")
    expect(template.parts[0]).toEqual({
      _tag: "Literal",
      text: "https://api.example.com/caf%C3%A9/%5Bx%5D?n=%22q%27%22&m=",
      position: 0
    })
    expect(template.parts.at(-1)).toEqual({ _tag: "Literal", text: "#a%23b", position: 54 })
  })

  it("keeps valid percent-escapes and reserved characters of the literal text as written", () => {
    const template = parseTemplate("https://h.example/a%2Fb;v=1/?q=%7Bx%7D&r=a+b&s=:@/?!$()*,")
    expect(template.parts).toEqual([
      {
        _tag: "Literal",
        text: "https://h.example/a%2Fb;v=1/?q=%7Bx%7D&r=a+b&s=:@/?!$()*,",
        position: 0
      }
    ])
  })

  it("writes an empty path as / and drops empty query pieces", () => {
    const template = parseTemplate("https://h.example?&a={payout}&&b=1&")
    expect(render(template, docsPostback)).toBe("https://h.example/?a=2.10&b=1")
  })

  it("refuses what is not a string", () => {
    expect(() => parseTemplate(42 as unknown as string)).toThrow(
      "parseTemplate: text must be a string, got 42"
    )
  })

  describe("reports each problem with its position", () => {
    const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<number>, RegExp]> = [
      ["unclosed brace", "https://h/pb?a={payout", [15], /unclosed "\{"/],
      ["unbalanced closing brace", "https://h/pb?a=payout}", [21], /unbalanced "\}"/],
      [
        "nested braces",
        "https://h/pb?a={x{payout}}",
        [17],
        /nested "\{" inside the macro opened at 15/
      ],
      ["empty macro", "https://h/pb?a={}", [15], /empty macro/],
      [
        "invalid name",
        "https://h/pb?a={user id}",
        [20],
        /invalid macro name "user id": " " is not allowed/
      ],
      ["invalid name with emoji", "https://h/pb?a={😀}", [16], /"😀" is not allowed/],
      [
        "malformed macro in the host, reported once",
        "https://{a b}.example/",
        [10],
        /invalid macro name "a b"/
      ],
      ["macro in the scheme", "{scheme}://h/pb", [0], /not allowed in the scheme/],
      ["macro in the host", "https://{host}.example/pb", [8], /not allowed in the host or port/],
      ["macro in the port", "https://h.example:{port}/pb", [18], /not allowed in the host or port/],
      [
        "macro in a query name",
        "https://h/pb?{user_id}=1",
        [13],
        /not allowed in a query parameter name/
      ],
      [
        "two macros in a query value",
        "https://h/pb?sub={offer_id}-{user_id}",
        [28],
        /only one macro per query value/
      ],
      ["adjacent macros in a segment", "https://h/{a}{b}", [13], /only one macro per path segment/],
      ["two macros in the fragment", "https://h/#{a}.{b}", [15], /only one macro per fragment/],
      ["relative template", "/postbacks?payout={payout}", [0], /must be an absolute URL/],
      ["no scheme", "api.example.com/pb?x={payout}", [0], /must be an absolute URL/],
      ["other scheme", "ftp://h/pb", [0], /unsupported scheme "ftp"/],
      ["missing //", "https:h/pb", [6], /expected "\/\/" after "https:"/],
      ["missing host", "https:///pb", [8], /missing host/],
      ["bad port", "https://h.example:99999/pb", [8], /invalid host or port "h.example:99999"/],
      ["bad host", "https://exa mple.com/pb", [8], /invalid host or port/],
      ["credentials", "https://u:p@h.example/pb", [8], /credentials/],
      ["space in literal", "https://h/pb?a=b c", [16], /space must be percent-encoded/],
      ["control character", "https://h/pb?a=b\tc", [16], /U\+0009 must be percent-encoded/],
      ["stray percent", "https://h/pb?a=100%", [18], /"%" must start a percent-escape/],
      ["bad percent escape", "https://h/pb?a=%zz", [15], /"%" must start a percent-escape/],
      ["backslash", "https://h/a\\b", [11], /backslash/],
      ["dot segment", "https://h/a/../b", [12], /dot segment/],
      ["encoded dot segment", "https://h/a/%2e/b", [12], /dot segment/],
      [
        "duplicate parameter",
        "https://h/pb?a={payout}&a={offer_id}",
        [24],
        /"a" appears twice \(first at 13\)/
      ],
      ["parameter without a name", "https://h/pb?={payout}", [13], /without a name/],
      ["escapes that are not UTF-8", "https://h/pb?a=%FF", [15], /do not decode to UTF-8/]
    ]
    for (const [title, text, expected, message] of cases) {
      it(title, () => {
        const problems = problemsOf(text)
        expect(problems.map((problem) => problem.position)).toEqual(expected)
        expect(problems[0]!.message).toMatch(message)
      })
    }
  })

  it("reports every problem at once, in order of position", () => {
    const text = "https://h/{a}{b}?{c}=1&x={}&y={a b}&z={a{b}}&w={p"
    expect(positions(text)).toEqual([13, 17, 25, 32, 40, 47])
    try {
      parseTemplate(text)
    } catch (error) {
      expect((error as TemplateError).message).toMatch(
        /^invalid postback URL template .*: 6 problems; at 13: /
      )
      expect((error as TemplateError).source).toBe(text)
      expect((error as TemplateError).name).toBe("TemplateError")
    }
  })

  it("tells an unclosed brace from a nested one", () => {
    expect(problemsOf("https://h/pb?a={abc&b={payout}")).toEqual([
      { position: 15, message: expect.stringMatching(/unclosed/) as unknown as string }
    ])
  })
})

describe("macros", () => {
  it("lists distinct macro names in order of first appearance", () => {
    const template = parseTemplate("https://h/u/{user_id}?a={payout}&b={user_id}#{offer_id}")
    expect(macros(template)).toEqual(["user_id", "payout", "offer_id"])
    expect(macros(parseTemplate("https://h/static?a=1"))).toEqual([])
  })

  it("refuses an object that parseTemplate did not build", () => {
    const lookalike: MacroTemplate = { ...parseTemplate(DOCS_TEMPLATE) }
    expect(() => macros(lookalike)).toThrow(
      "macros: template must be a MacroTemplate returned by parseTemplate, got an object"
    )
  })
})
