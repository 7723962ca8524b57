import { BUILTIN_MACROS, isMacroName } from "@org/postback-macros"
import { assertEquals } from "./assert.ts"

Deno.test("postback-macros: macro names", () => {
  assertEquals(BUILTIN_MACROS.includes("payout"), true)
  assertEquals(isMacroName("user_id"), true)
})
