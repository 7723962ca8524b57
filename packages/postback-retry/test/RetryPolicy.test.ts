import { describe, expect, it } from "@effect/vitest"
import { attemptOffsets, momentScience } from "../src/index.ts"

describe("RetryPolicy", () => {
  it("places MomentScience attempts at 0, 60, 150, 270 and 420 s", () => {
    expect(attemptOffsets(momentScience)).toEqual([0, 60, 150, 270, 420])
  })
})
