import { describe, expect, it } from "@effect/vitest"
import { Equal, Hash } from "effect"
import * as fc from "fast-check"
import { Decimal, type RoundingMode } from "../src/index.ts"

const d = Decimal.parse

/** Arbitrary decimals as (coefficient, scale), kept small enough to compare through exact rationals. */
const decimal = fc
  .tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 8 }))
  .map(([coefficient, scale]) => Decimal.make(coefficient, scale))

describe("Decimal", () => {
  describe("parse and print", () => {
    it.each([
      ["2.10", "2.10"],
      ["30", "30"],
      ["0.5", "0.5"],
      ["007.50", "7.50"],
      ["-0.01", "-0.01"],
      ["0.000", "0.000"],
      ["123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"]
    ])("%s prints as %s", (text, canonical) => {
      expect(d(text).toString()).toBe(canonical)
    })

    it.each([
      "",
      " 1",
      "1 ",
      "+1",
      "1e3",
      "1E-2",
      ".5",
      "5.",
      "1.2.3",
      "0x10",
      "NaN",
      "Infinity",
      "1_000",
      "١٢"
    ])("refuses %j", (text) => {
      expect(Decimal.fromString(text)).toBeUndefined()
      expect(() => d(text)).toThrow(/expected a decimal string like "2\.10"/)
    })

    it("toString then parse gives the same coefficient and scale", () => {
      fc.assert(
        fc.property(decimal, (x) => {
          const back = d(x.toString())
          expect(back.coefficient).toBe(x.coefficient)
          expect(back.scale).toBe(x.scale)
        })
      )
    })
  })

  describe("arithmetic is exact", () => {
    it("2.10 × 10 = 21.00 and 0.1 + 0.2 = 0.3", () => {
      expect(d("2.10").multiply(d("10")).toString()).toBe("21.00")
      expect(d("0.1").add(d("0.2")).toString()).toBe("0.3")
      expect(d("0.1").add(d("0.2")).equals(d("0.3"))).toBe(true)
      expect(d("30").multiply(d("10")).toBigInt("floor")).toBe(300n)
    })

    it("add and subtract are inverse", () => {
      fc.assert(
        fc.property(decimal, decimal, (a, b) => {
          expect(a.add(b).subtract(b).equals(a)).toBe(true)
        })
      )
    })

    it("multiply agrees with the exact rational product", () => {
      fc.assert(
        fc.property(decimal, decimal, (a, b) => {
          const product = a.multiply(b)
          // a*b = (ca*cb) / 10^(sa+sb): compare cross-multiplied integers.
          expect(product.coefficient * 10n ** BigInt(a.scale + b.scale)).toBe(
            a.coefficient * b.coefficient * 10n ** BigInt(product.scale)
          )
        })
      )
    })

    it("compare is consistent with subtract", () => {
      fc.assert(
        fc.property(decimal, decimal, (a, b) => {
          expect(a.compare(b)).toBe(a.subtract(b).sign)
          // Antisymmetric (`0 - x` rather than `-x`, which is -0 for equal values).
          expect(b.compare(a)).toBe(0 - a.compare(b))
        })
      )
    })
  })

  describe("equality", () => {
    it("2.1 and 2.10 are Equal with the same hash, but print differently", () => {
      expect(Equal.equals(d("2.1"), d("2.10"))).toBe(true)
      expect(Hash.hash(d("2.1"))).toBe(Hash.hash(d("2.10")))
      expect(d("2.1").toString()).not.toBe(d("2.10").toString())
      expect(Equal.equals(d("2.1"), d("2.11"))).toBe(false)
    })

    it("normalize drops trailing zeros only", () => {
      expect(d("30.00").normalize().toString()).toBe("30")
      expect(d("2.10").normalize().toString()).toBe("2.1")
      expect(d("100").normalize().toString()).toBe("100")
    })

    it("withScale pads but never drops digits", () => {
      expect(d("2.1").withScale(3).toString()).toBe("2.100")
      expect(d("2.100").withScale(1).toString()).toBe("2.1")
      expect(() => d("2.15").withScale(1)).toThrow(RangeError)
    })
  })

  describe("round", () => {
    const table: ReadonlyArray<[string, Record<RoundingMode, string>]> = [
      ["2.5", { floor: "2", ceil: "3", down: "2", "half-up": "3", "half-even": "2" }],
      ["3.5", { floor: "3", ceil: "4", down: "3", "half-up": "4", "half-even": "4" }],
      ["-2.5", { floor: "-3", ceil: "-2", down: "-2", "half-up": "-3", "half-even": "-2" }],
      ["26.25", { floor: "26", ceil: "27", down: "26", "half-up": "26", "half-even": "26" }],
      ["0.999", { floor: "0", ceil: "1", down: "0", "half-up": "1", "half-even": "1" }],
      ["-0.001", { floor: "-1", ceil: "0", down: "0", "half-up": "0", "half-even": "0" }],
      ["21.00", { floor: "21", ceil: "21", down: "21", "half-up": "21", "half-even": "21" }]
    ]
    for (const [value, expected] of table) {
      for (const [mode, result] of Object.entries(expected)) {
        it(`${value} ${mode} -> ${result}`, () => {
          expect(
            d(value)
              .round(0, mode as RoundingMode)
              .toString()
          ).toBe(result)
        })
      }
    }

    it("rounds to a fractional scale", () => {
      expect(d("2.345").round(2, "half-even").toString()).toBe("2.34")
      expect(d("2.355").round(2, "half-even").toString()).toBe("2.36")
      expect(d("2.345").round(2, "half-up").toString()).toBe("2.35")
      expect(d("2.3").round(2, "floor").toString()).toBe("2.3")
    })

    it("refuses a bad scale or mode with a message naming it", () => {
      expect(() => d("1.5").round(-1, "floor")).toThrow(
        /scale must be a non-negative integer, got -1/
      )
      expect(() => d("1.5").round(0, "sideways" as RoundingMode)).toThrow(
        /unknown rounding mode "sideways"/
      )
    })

    it("floor <= value <= ceil, within one unit", () => {
      fc.assert(
        fc.property(decimal, (x) => {
          const floor = x.round(0, "floor")
          const ceil = x.round(0, "ceil")
          expect(floor.compare(x)).toBeLessThanOrEqual(0)
          expect(ceil.compare(x)).toBeGreaterThanOrEqual(0)
          expect(ceil.subtract(floor).compare(d("1"))).toBeLessThanOrEqual(0)
        })
      )
    })

    it("half modes land within half a unit", () => {
      fc.assert(
        fc.property(decimal, (x) => {
          for (const mode of ["half-up", "half-even"] as const) {
            const distance = x.round(0, mode).subtract(x)
            const magnitude = distance.isNegative() ? distance.negate() : distance
            expect(magnitude.compare(d("0.5"))).toBeLessThanOrEqual(0)
          }
        })
      )
    })
  })
})
