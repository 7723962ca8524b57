import { describe, expect, it } from "@effect/vitest"
import { ROUNDING_MODES } from "../src/index.ts"

describe("Rounding", () => {
  it("defaults to floor so that users are never over-credited", () => {
    expect(ROUNDING_MODES[0]).toBe("floor")
  })
})
