import { BUILTIN_MACROS, isMacroName } from "@org/postback-macros"
import { attemptOffsets, momentScience } from "@org/postback-retry"
import { Decimal, isWireField, WIRE_FIELDS } from "@org/postback-schema"
import { ROUNDING_MODES } from "@org/reward-converter"
import { assertEquals } from "./assert.ts"

Deno.test("postback-schema: wire fields", () => {
  assertEquals(WIRE_FIELDS.length, 5)
  assertEquals(isWireField("user_id"), false)
})

Deno.test("postback-schema: exact decimals", () => {
  assertEquals(Decimal.parse("2.10").multiply(Decimal.parse("10")).toString(), "21.00")
  assertEquals(Decimal.parse("30").multiply(Decimal.parse("10")).toBigInt("floor"), 300n)
})

Deno.test("postback-macros: macro names", () => {
  assertEquals(BUILTIN_MACROS.includes("payout"), true)
  assertEquals(isMacroName("user_id"), true)
})

Deno.test("postback-retry: MomentScience attempt offsets", () => {
  assertEquals(attemptOffsets(momentScience), [0, 60, 150, 270, 420])
})

Deno.test("reward-converter: floor is the default rounding", () => {
  assertEquals(ROUNDING_MODES[0], "floor")
})
