/** How a fractional number of points becomes a whole one. `floor` never over-credits. */
export type RoundingMode = "floor" | "ceil" | "half-up" | "half-even"

/** Every rounding mode, the default first. */
export const ROUNDING_MODES: ReadonlyArray<RoundingMode> = ["floor", "ceil", "half-up", "half-even"]
