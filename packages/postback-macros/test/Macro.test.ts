import { describe, expect, it } from "@effect/vitest"
import { BUILTIN_MACROS, isMacroName } from "../src/index.ts"

describe("Macro", () => {
  it("knows the built-in macros", () => {
    expect(BUILTIN_MACROS).toContain("payout")
    expect(BUILTIN_MACROS).toHaveLength(5)
  })

  it("accepts payload keys and refuses malformed names", () => {
    expect(isMacroName("user_id")).toBe(true)
    expect(isMacroName("user id")).toBe(false)
    expect(isMacroName("")).toBe(false)
  })
})
