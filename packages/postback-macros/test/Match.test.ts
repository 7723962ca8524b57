import { describe, expect, it } from "@effect/vitest"
import { type MatchResult, match, parseTemplate, render } from "../src/index.ts"
import { DOCS_TEMPLATE, docsPostback } from "./fixtures.ts"

const RECEIVER_TEMPLATE = "https://pub.example/pb?amount={payout}&uid={user_id}&oid={offer_id}"

const errorsOf = (result: MatchResult) => {
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.fields)}`)
  return result.errors
}

describe("match", () => {
  it("recovers MomentScience's documentation example", () => {
    const template = parseTemplate(DOCS_TEMPLATE)
    expect(
      match(template, "https://api.example.com/postbacks?payout=2.10&user_id=3410444&offer_id=1511")
    ).toEqual({
      ok: true,
      fields: { offer_id: "1511", payout: "2.10", payload: { user_id: "3410444" } }
    })
  })

  it("maps parameter names to fields through the template, in any order", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    const expected = {
      ok: true,
      fields: { offer_id: "1511", payout: "2.10", payload: { user_id: "3410444" } }
    }
    expect(match(template, "https://pub.example/pb?amount=2.10&uid=3410444&oid=1511")).toEqual(
      expected
    )
    expect(match(template, "https://pub.example/pb?oid=1511&amount=2.10&uid=3410444")).toEqual(
      expected
    )
    expect(match(template, "https://pub.example/pb?uid=3410444&oid=1511&amount=2.10")).toEqual(
      expected
    )
  })

  it("ignores the origin, and takes a URL object or a path with query", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    const url = "/pb?amount=2.10&uid=3410444&oid=1511"
    const fields = { offer_id: "1511", payout: "2.10", payload: { user_id: "3410444" } }
    expect(match(template, `http://localhost:3000${url}`)).toEqual({ ok: true, fields })
    expect(match(template, new URL(`http://10.0.0.7:8080${url}`))).toEqual({ ok: true, fields })
    expect(match(template, url)).toEqual({ ok: true, fields })
  })

  it("ignores parameters the template does not mention by default", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    expect(match(template, "/pb?secret=s3cr3t&amount=2.10&utm_source=x&uid=1&oid=2")).toEqual({
      ok: true,
      fields: { offer_id: "2", payout: "2.10", payload: { user_id: "1" } }
    })
  })

  it("reports unknown parameters when asked, except the ignored ones", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    const url = "/pb?secret=s3cr3t&amount=2.10&utm_source=x&uid=1&oid=2"
    expect(errorsOf(match(template, url, { unknownParameters: "error" }))).toEqual([
      {
        code: "unknown-parameter",
        message: 'query parameter "secret" is not in the template',
        parameter: "secret"
      },
      {
        code: "unknown-parameter",
        message: 'query parameter "utm_source" is not in the template',
        parameter: "utm_source"
      }
    ])
    expect(
      errorsOf(match(template, url, { unknownParameters: "error", ignoreParameters: ["secret"] }))
    ).toEqual([expect.objectContaining({ code: "unknown-parameter", parameter: "utm_source" })])
    expect(
      match(template, url, { unknownParameters: "ignore", ignoreParameters: ["secret"] }).ok
    ).toBe(true)
  })

  it("form-decodes query names and values: + is a space, then percent-decoding", () => {
    const template = parseTemplate("https://h.example/pb?adv={advertiser_name}&my+key={user_id}")
    expect(match(template, "/pb?adv=Moment+Science+%26+Co&my%20key=a%2Bb+c%F0%9F%98%80")).toEqual({
      ok: true,
      fields: { advertiser_name: "Moment Science & Co", payload: { user_id: "a+b c😀" } }
    })
  })

  it("matches path-segment macros segment by segment, %2F staying inside the value", () => {
    const template = parseTemplate("https://h.example/u/{user_id}/o/{offer_id}?p={payout}")
    expect(match(template, "/u/a%2Fb+c/o/1511?p=2.10")).toEqual({
      ok: true,
      fields: { offer_id: "1511", payout: "2.10", payload: { user_id: "a/b+c" } }
    })
    expect(errorsOf(match(template, "/u/a/b/o/1511?p=2.10"))).toEqual([
      {
        code: "path-mismatch",
        message:
          'path "/u/a/b/o/1511" has 5 segment(s), the template\'s path "/u/{user_id}/o/{offer_id}" has 4'
      }
    ])
    expect(errorsOf(match(template, "/v/1/o/1511?p=2.10"))).toEqual([
      {
        code: "literal-mismatch",
        message: 'path segment 1 is "v", the template expects "u"'
      }
    ])
  })

  it("takes what lies between the literal text around a macro", () => {
    const template = parseTemplate("https://h.example/r/pb-{offer_id}.json?sub=id:{user_id}:end")
    expect(match(template, "/r/pb-15-11.json?sub=id:a:b:end")).toEqual({
      ok: true,
      fields: { offer_id: "15-11", payload: { user_id: "a:b" } }
    })
    expect(match(template, "/r/pb-.json?sub=id::end")).toEqual({
      ok: true,
      fields: { offer_id: "", payload: { user_id: "" } }
    })
    expect(errorsOf(match(template, "/r/1511.json?sub=id:end"))).toEqual([
      {
        code: "literal-mismatch",
        message: 'path segment 2 is "1511.json", the template expects "pb-{offer_id}.json"'
      },
      {
        code: "literal-mismatch",
        message: 'query parameter "sub" is "id:end", the template expects "id:{user_id}:end"',
        parameter: "sub"
      }
    ])
  })

  it("reports a missing parameter and a literal that differs", () => {
    const template = parseTemplate("https://h.example/pb?src=ms&amount={payout}&oid={offer_id}")
    expect(errorsOf(match(template, "/pb?src=other&oid=1511"))).toEqual([
      {
        code: "literal-mismatch",
        message: 'query parameter "src" is "other", the template expects "ms"',
        parameter: "src"
      },
      {
        code: "missing-parameter",
        message: 'missing query parameter "amount" (the template expects "{payout}")',
        parameter: "amount"
      }
    ])
  })

  it("reports a parameter of the template given twice", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    expect(errorsOf(match(template, "/pb?amount=2.10&uid=1&oid=2&amount=3.00"))).toEqual([
      {
        code: "duplicate-parameter",
        message: 'query parameter "amount" appears 2 times, the template expects it once',
        parameter: "amount"
      }
    ])
  })

  it("requires one value for a macro used in two places", () => {
    const template = parseTemplate("https://h.example/o/{offer_id}?oid={offer_id}&p={payout}")
    expect(match(template, "/o/1511?oid=1511&p=1")).toEqual({
      ok: true,
      fields: { offer_id: "1511", payout: "1", payload: {} }
    })
    expect(errorsOf(match(template, "/o/1511?oid=1512&p=1"))).toEqual([
      {
        code: "conflicting-values",
        message:
          '{offer_id} has two different values: "1511" in path segment 2 and "1512" in query parameter "oid"',
        macro: "offer_id"
      }
    ])
  })

  it("reports malformed percent-encoding instead of throwing", () => {
    const template = parseTemplate("https://h.example/u/{user_id}?p={payout}")
    expect(errorsOf(match(template, "/u/%E0%A4?p=%ZZ&%zz=1"))).toEqual([
      {
        code: "malformed-encoding",
        message: 'path segment 2 has malformed percent-encoding: "%E0%A4"'
      },
      {
        code: "malformed-encoding",
        message: 'query parameter "p" has malformed percent-encoding: "%ZZ"',
        parameter: "p"
      },
      {
        code: "malformed-encoding",
        message: 'query parameter name "%zz" has malformed percent-encoding'
      }
    ])
  })

  it("matches the fragment only when it carries a macro", () => {
    const literal = parseTemplate("https://h.example/pb?p={payout}#top")
    expect(match(literal, "/pb?p=1").ok).toBe(true)
    const template = parseTemplate("https://h.example/pb?p={payout}#s={session_id}")
    expect(match(template, "/pb?p=1#s=a%20b")).toEqual({
      ok: true,
      fields: { payout: "1", payload: { session_id: "a b" } }
    })
    expect(match(template, new URL("https://h.example/pb?p=1#s="))).toEqual({
      ok: true,
      fields: { payout: "1", payload: { session_id: "" } }
    })
    expect(errorsOf(match(template, "/pb?p=1"))).toEqual([
      {
        code: "missing-fragment",
        message:
          'the URL has no fragment, the template expects "s={session_id}" there (HTTP clients do not send fragments)',
        macro: "session_id"
      }
    ])
  })

  it("matches a template whose path is /", () => {
    const template = parseTemplate("https://h.example?p={payout}")
    expect(match(template, "https://h.example?p=1").ok).toBe(true)
    expect(match(template, "https://h.example/?p=1").ok).toBe(true)
    expect(match(template, "/?p=1").ok).toBe(true)
    expect(errorsOf(match(template, "/x?p=1"))).toEqual([
      { code: "literal-mismatch", message: 'path segment 1 is "x", the template expects ""' }
    ])
    expect(errorsOf(match(template, "/x/?p=1"))[0]?.code).toBe("path-mismatch")
  })

  it("keeps a payload key named __proto__ as a key", () => {
    const template = parseTemplate("https://h.example/pb?a={__proto__}")
    const result = match(template, "/pb?a=x")
    expect(result.ok && Object.keys(result.fields.payload)).toEqual(["__proto__"])
    expect(
      result.ok && Object.getOwnPropertyDescriptor(result.fields.payload, "__proto__")
    ).toEqual({
      value: "x",
      enumerable: true,
      writable: true,
      configurable: true
    })
    expect(result.ok && Object.getPrototypeOf(result.fields.payload)).toBe(Object.prototype)
  })

  it("refuses what is not a URL", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    expect(errorsOf(match(template, "pb?amount=1"))).toEqual([
      {
        code: "invalid-url",
        message:
          'not a URL: expected an absolute URL or a path starting with "/", got "pb?amount=1"'
      }
    ])
    expect(() => match(template, 42 as never)).toThrow(
      "match: url must be a string or a URL, got 42"
    )
  })

  it("validates options, naming the option and its value", () => {
    const template = parseTemplate(RECEIVER_TEMPLATE)
    expect(() => match(template, "/pb", { unknownParameters: "reject" as never })).toThrow(
      'match: option "unknownParameters" must be "ignore" or "error", got "reject"'
    )
    expect(() => match(template, "/pb", { ignoreParameters: "secret" as never })).toThrow(
      'match: option "ignoreParameters" must be an array of parameter names, got "secret"'
    )
    expect(() => match(template, "/pb", { ignoreParameters: ["amount"] })).toThrow(
      'match: option "ignoreParameters" lists "amount", which the template uses'
    )
    expect(() => match(template, "/pb", { strict: true } as never)).toThrow(
      'match: unknown option "strict" (known: unknownParameters, ignoreParameters)'
    )
  })

  it("reads back what render writes, for the documentation example", () => {
    const template = parseTemplate(
      "https://h.example/a/{advertiser_name}?t={timestamp}&lb={is_loyaltyboost}&u={user_id}"
    )
    const url = render(template, { ...docsPostback, payload: { user_id: "&=+ {}%😀" } })
    expect(match(template, url)).toEqual({
      ok: true,
      fields: {
        advertiser_name: "Moment Science & Co",
        timestamp: "2023-09-20T15:27:40.802Z",
        is_loyaltyboost: "1",
        payload: { user_id: "&=+ {}%😀" }
      }
    })
  })
})
