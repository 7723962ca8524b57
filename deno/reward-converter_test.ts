import { ROUNDING_MODES } from "@org/reward-converter"
import { assertEquals } from "./assert.ts"

Deno.test("reward-converter: floor is the default rounding", () => {
  assertEquals(ROUNDING_MODES[0], "floor")
})
