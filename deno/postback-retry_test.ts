import { attemptOffsets, momentScience } from "@org/postback-retry"
import { assertEquals } from "./assert.ts"

Deno.test("postback-retry: MomentScience attempt offsets", () => {
  assertEquals(attemptOffsets(momentScience), [0, 60, 150, 270, 420])
})
