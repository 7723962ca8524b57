import { describe, expect, it } from "@effect/vitest"
import { parseTemplate, validate } from "../src/index.ts"
import { DOCS_TEMPLATE } from "./fixtures.ts"

describe("validate", () => {
  it("has nothing to say about the documentation example", () => {
    expect(validate(parseTemplate(DOCS_TEMPLATE), { knownPayloadKeys: ["user_id"] })).toEqual([])
    expect(validate(parseTemplate(DOCS_TEMPLATE))).toEqual([])
  })

  it("warns about payload macros that are not known keys, with their position", () => {
    const template = parseTemplate("https://h.example/pb?uid={user_id}&c={click_id}&p={payout}")
    expect(validate(template, { knownPayloadKeys: ["user_id", "session_id"] })).toEqual([
      {
        code: "unknown-macro",
        macro: "click_id",
        position: 37,
        message:
          "{click_id} is neither a built-in field nor a known payload key, so it is never filled"
      }
    ])
    expect(validate(template, { knownPayloadKeys: new Set(["user_id", "click_id"]) })).toEqual([])
  })

  it("warns about a name that differs from a built-in only by case", () => {
    const template = parseTemplate("https://h.example/pb?p={Payout}")
    expect(validate(template)).toEqual([
      {
        code: "unknown-macro",
        macro: "Payout",
        position: 23,
        message:
          "{Payout} is not the built-in {payout} (macro names are case-sensitive) nor a known payload key, so it is never filled"
      }
    ])
    expect(validate(template, { knownPayloadKeys: ["Payout"] })).toEqual([])
  })

  it("warns that a macro in the fragment never reaches a receiver", () => {
    const template = parseTemplate("https://h.example/pb?p={payout}#{offer_id}")
    expect(validate(template)).toEqual([
      {
        code: "fragment-macro",
        macro: "offer_id",
        position: 32,
        message:
          "{offer_id} is in the fragment, which HTTP clients never send: a receiver cannot recover it"
      }
    ])
  })

  it("validates its options", () => {
    const template = parseTemplate(DOCS_TEMPLATE)
    expect(() => validate(template, { knownPayloadKeys: "user_id" as never })).toThrow(
      'validate: option "knownPayloadKeys" must be an array (or iterable) of key names, got "user_id"'
    )
    expect(() => validate(template, { knownPayloadKeys: [1] as never })).toThrow(
      'validate: option "knownPayloadKeys" must hold strings, got 1'
    )
    expect(() => validate(template, { keys: [] } as never)).toThrow(
      'validate: unknown option "keys" (known: knownPayloadKeys)'
    )
  })
})
