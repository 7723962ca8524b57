import { Decimal, isWireField, WIRE_FIELDS } from "@org/postback-schema"
import { assertEquals } from "./assert.ts"

Deno.test("postback-schema: wire fields", () => {
  assertEquals(WIRE_FIELDS.length, 5)
  assertEquals(isWireField("user_id"), false)
})

Deno.test("postback-schema: exact decimals", () => {
  assertEquals(Decimal.parse("2.10").multiply(Decimal.parse("10")).toString(), "21.00")
  assertEquals(Decimal.parse("30").multiply(Decimal.parse("10")).toBigInt("floor"), 300n)
})
