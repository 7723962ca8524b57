import { describe, expect, it } from "@effect/vitest"
import { Decimal, type Postback } from "@org/postback-schema"
import { parseTemplate, RenderError, render } from "../src/index.ts"
import { DOCS_TEMPLATE, docsPostback } from "./fixtures.ts"

const withPayload = (payload: Postback["payload"]): Postback => ({ ...docsPostback, payload })

describe("render", () => {
  it("renders MomentScience's documentation example", () => {
    expect(render(parseTemplate(DOCS_TEMPLATE), docsPostback)).toBe(
      "https://api.example.com/postbacks?payout=2.10&user_id=3410444&offer_id=1511"
    )
  })

  it("prints every built-in field through its wire form", () => {
    const template = parseTemplate(
      "https://h.example/pb?o={offer_id}&a={advertiser_name}&p={payout}&t={timestamp}&l={is_loyaltyboost}"
    )
    expect(render(template, docsPostback)).toBe(
      "https://h.example/pb?o=1511&a=Moment%20Science%20%26%20Co&p=2.10&t=2023-09-20T15:27:40.802Z&l=1"
    )
    expect(
      render(template, { ...docsPostback, isLoyaltyBoost: false, payout: Decimal.parse("30") })
    ).toBe(
      "https://h.example/pb?o=1511&a=Moment%20Science%20%26%20Co&p=30&t=2023-09-20T15:27:40.802Z&l=0"
    )
  })

  it("always takes a built-in field, even when the payload has a key of that name", () => {
    const template = parseTemplate("https://h.example/pb?p={payout}")
    expect(render(template, withPayload({ payout: "999" }))).toBe("https://h.example/pb?p=2.10")
  })

  describe("percent-encodes each value for where it stands", () => {
    const template = parseTemplate("https://h.example/s/{user_id}?q={user_id}#{user_id}")
    const table: ReadonlyArray<readonly [string, string, string, string]> = [
      // value, path segment, query value, fragment
      ["3410444", "3410444", "3410444", "3410444"],
      [
        "Moment Science & Co",
        "Moment%20Science%20&%20Co",
        "Moment%20Science%20%26%20Co",
        "Moment%20Science%20&%20Co"
      ],
      [
        "2023-09-20T15:27:40.802Z",
        "2023-09-20T15:27:40.802Z",
        "2023-09-20T15:27:40.802Z",
        "2023-09-20T15:27:40.802Z"
      ],
      ["a=b&c=d", "a=b&c=d", "a%3Db%26c%3Dd", "a=b&c=d"],
      ["1+1", "1%2B1", "1%2B1", "1+1"],
      ["100%", "100%25", "100%25", "100%25"],
      ["{user_id}", "%7Buser_id%7D", "%7Buser_id%7D", "%7Buser_id%7D"],
      ["a/b?c#d", "a%2Fb%3Fc%23d", "a/b?c%23d", "a/b?c%23d"],
      ["x;y", "x%3By", "x%3By", "x;y"],
      ["it's", "it's", "it%27s", "it's"],
      ["~-._!$()*,:@", "~-._!$()*,:@", "~-._!$()*,:@", "~-._!$()*,:@"],
      [
        '"<>`^|[]\\',
        "%22%3C%3E%60%5E%7C%5B%5D%5C",
        "%22%3C%3E%60%5E%7C%5B%5D%5C",
        "%22%3C%3E%60%5E%7C%5B%5D%5C"
      ],
      ["café", "caf%C3%A9", "caf%C3%A9", "caf%C3%A9"],
      ["😀", "%F0%9F%98%80", "%F0%9F%98%80", "%F0%9F%98%80"],
      ["東京", "%E6%9D%B1%E4%BA%AC", "%E6%9D%B1%E4%BA%AC", "%E6%9D%B1%E4%BA%AC"],
      ["tab\there\n", "tab%09here%0A", "tab%09here%0A", "tab%09here%0A"],
      [
        "lone \uD800 surrogate",
        "lone%20%EF%BF%BD%20surrogate",
        "lone%20%EF%BF%BD%20surrogate",
        "lone%20%EF%BF%BD%20surrogate"
      ],
      ["", "", "", ""]
    ]
    for (const [value, path, query, fragment] of table) {
      it(JSON.stringify(value), () => {
        const url = render(template, withPayload({ user_id: value }))
        expect(url).toBe(`https://h.example/s/${path}?q=${query}#${fragment}`)
        // WHATWG URL reads the same URL back unchanged.
        expect(new URL(url).href).toBe(url)
      })
    }
  })

  it("agrees with URLSearchParams and URL on what a query value decodes to", () => {
    const template = parseTemplate("https://h.example/pb?v={user_id}&w=pre-{user_id}-post")
    for (const value of ["a b+c", "&=%{}", "Moment Science & Co", "😀é", "?/#"]) {
      const url = new URL(render(template, withPayload({ user_id: value })))
      expect(url.searchParams.get("v")).toBe(value)
      expect(url.searchParams.get("w")).toBe(`pre-${value}-post`)
    }
  })

  describe("missing payload values", () => {
    const template = parseTemplate("https://h.example/u/{click_id}?uid={user_id}&s={session_id}")
    const postback = withPayload({ user_id: "42" })

    it("are empty by default", () => {
      expect(render(template, postback)).toBe("https://h.example/u/?uid=42&s=")
      expect(render(template, postback, {})).toBe("https://h.example/u/?uid=42&s=")
      expect(render(template, postback, { missing: "empty" })).toBe(
        "https://h.example/u/?uid=42&s="
      )
    })

    it("keep the macro text, encoded for its place", () => {
      expect(render(template, postback, { missing: "keep" })).toBe(
        "https://h.example/u/%7Bclick_id%7D?uid=42&s=%7Bsession_id%7D"
      )
    })

    it("throw a RenderError naming every missing macro", () => {
      let caught: unknown
      try {
        render(template, postback, { missing: "error" })
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(RenderError)
      expect((caught as RenderError).reason).toBe("missing-value")
      expect((caught as RenderError).macros).toEqual(["click_id", "session_id"])
      expect((caught as RenderError).message).toBe(
        'render: no value for {click_id}, {session_id}: the postback\'s payload has no such key (missing: "error")'
      )
      expect(
        render(template, withPayload({ user_id: "1", click_id: "2", session_id: "3" }), {
          missing: "error"
        })
      ).toBe("https://h.example/u/2?uid=1&s=3")
    })

    it("count only own payload keys, never inherited ones", () => {
      const inherited = parseTemplate("https://h.example/pb?c={constructor}&p={__proto__}")
      expect(render(inherited, withPayload({}))).toBe("https://h.example/pb?c=&p=")
      const own = JSON.parse('{"__proto__":"x","constructor":"y"}') as Postback["payload"]
      expect(render(inherited, withPayload(own))).toBe("https://h.example/pb?c=y&p=x")
    })
  })

  it("validates options before rendering, naming the option and its value", () => {
    const template = parseTemplate("https://h.example/static")
    expect(() => render(template, docsPostback, { missing: "skip" as never })).toThrow(
      'render: option "missing" must be "empty", "keep" or "error", got "skip"'
    )
    expect(() => render(template, docsPostback, { mising: "error" } as never)).toThrow(
      'render: unknown option "mising" (known: missing)'
    )
    expect(() => render(template, docsPostback, null as never)).toThrow(
      "render: options must be an object, got null"
    )
  })

  it("names the malformed field of a postback instead of crashing", () => {
    const template = parseTemplate("https://h.example/pb?o={offer_id}&t={timestamp}&u={user_id}")
    expect(() => render(template, { ...docsPostback, offerId: 1511 as never })).toThrow(
      "render: postback.offerId must be a string, got 1511"
    )
    expect(() => render(template, { ...docsPostback, timestamp: new Date(Number.NaN) })).toThrow(
      "render: postback.timestamp must be a valid Date"
    )
    expect(() => render(template, withPayload({ user_id: 3410444 as never }))).toThrow(
      "render: postback.payload.user_id must be a string, got 3410444"
    )
    expect(() => render(template, { ...docsPostback, payload: undefined as never })).toThrow(
      "render: postback.payload must be an object, got undefined"
    )
  })

  it("refuses a value that would make a path segment . or ..", () => {
    const template = parseTemplate("https://h.example/u/{user_id}/x")
    for (const value of [".", ".."]) {
      expect(() => render(template, withPayload({ user_id: value }))).toThrow(RenderError)
    }
    expect(render(template, withPayload({ user_id: "..." }))).toBe("https://h.example/u/.../x")
    const dotted = parseTemplate("https://h.example/u/.{user_id}")
    expect(() => render(dotted, withPayload({ user_id: "." }))).toThrow(
      'render: the value of {user_id} makes a path segment "..", which URL parsers remove instead of sending'
    )
    expect(render(dotted, withPayload({ user_id: "x" }))).toBe("https://h.example/u/.x")
    // In a query value a dot is only a dot.
    expect(
      render(parseTemplate("https://h.example/pb?u={user_id}"), withPayload({ user_id: ".." }))
    ).toBe("https://h.example/pb?u=..")
  })

  it("returns values that need no escaping as they are", () => {
    const template = parseTemplate("https://h.example/pb?u={user_id}")
    const id = "abcDEF123-._~"
    expect(render(template, withPayload({ user_id: id }))).toBe(`https://h.example/pb?u=${id}`)
  })
})
