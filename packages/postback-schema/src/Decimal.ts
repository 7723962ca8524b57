const TypeId: unique symbol = Symbol.for("@org/postback-schema/Decimal")

/**
 * How a value is brought to fewer fractional digits.
 *
 * - `floor`: toward negative infinity (never over-credits a positive amount)
 * - `ceil`: toward positive infinity
 * - `down`: toward zero (truncate)
 * - `half-up`: to the nearest, ties away from zero (the schoolbook rule)
 * - `half-even`: to the nearest, ties to the even neighbour (banker's rounding)
 */
export type RoundingMode = "floor" | "ceil" | "down" | "half-up" | "half-even"

/** Every rounding mode. */
export const ROUNDING_MODES: ReadonlyArray<RoundingMode> = [
  "floor",
  "ceil",
  "down",
  "half-up",
  "half-even"
]

const DECIMAL_TEXT = /^(-)?(\d+)(?:\.(\d+))?$/

const POWERS_OF_TEN: Array<bigint> = [1n]
const pow10 = (n: number): bigint => {
  for (let i = POWERS_OF_TEN.length; i <= n; i++) POWERS_OF_TEN.push(POWERS_OF_TEN[i - 1]! * 10n)
  return POWERS_OF_TEN[n]!
}

// Effect's `Equal.symbol` and `Hash.symbol`: plain strings, so that Decimal
// takes part in Effect's structural equality (HashMap keys, Equal.equals,
// Schema equivalences) without importing `effect` (the plain API and the
// macros package run without it).
const EQUAL = "~effect/Equal"
const HASH = "~effect/Hash"

/** djb2 over UTF-16 code units, folded to a 31-bit integer like Effect's own string hash. */
const hashString = (text: string): number => {
  let h = 5381
  for (let i = text.length; i > 0; ) h = (h * 33) ^ text.charCodeAt(--i)
  return (h & 0xbfffffff) | ((h >>> 1) & 0x40000000)
}

const abs = (n: bigint): bigint => (n < 0n ? -n : n)

/**
 * An exact, immutable decimal number: `coefficient × 10^-scale`.
 *
 * Money in this project is a `Decimal`, never a JS `number`. The scale is kept,
 * so `"2.10"` prints back as `"2.10"`; arithmetic is exact (`add`, `subtract`,
 * `multiply`), and the only place digits are dropped is an explicit
 * {@link Decimal.round} with a {@link RoundingMode}.
 *
 * Two decimals are `Equal.equals` (Effect's structural equality) when they
 * are the same number (`2.1` and `2.10`); `toString` tells them apart. The
 * class implements Effect's `Equal` and `Hash` protocols by their string keys,
 * so it needs nothing from `effect` at run time.
 *
 * @example
 * import { Decimal } from "@org/postback-schema"
 *
 * const payout = Decimal.parse("2.10")
 * payout.toString()                                  // "2.10"
 * payout.multiply(Decimal.parse("10")).toString()    // "21.00"
 * Decimal.parse("12.5").multiply(payout).round(0, "floor").toString() // "26"
 */
export class Decimal {
  readonly [TypeId]: typeof TypeId = TypeId
  #hash: number | undefined

  private constructor(
    /** The unscaled integer value. */
    readonly coefficient: bigint,
    /** How many digits stand after the decimal point (>= 0). */
    readonly scale: number
  ) {}

  /**
   * `coefficient × 10^-scale`. Throws a `RangeError` when `scale` is not a
   * non-negative safe integer.
   */
  static make(coefficient: bigint, scale = 0): Decimal {
    if (!Number.isSafeInteger(scale) || scale < 0) {
      throw new RangeError(`Decimal scale must be a non-negative integer, got ${String(scale)}`)
    }
    return new Decimal(coefficient, scale)
  }

  /** An integer as a decimal with scale 0. */
  static fromBigInt(value: bigint): Decimal {
    return new Decimal(value, 0)
  }

  /**
   * Reads plain decimal notation: an optional `-`, digits, and optionally a
   * `.` followed by digits (`"2.10"`, `"-0.5"`, `"30"`). No exponents, no `+`,
   * no spaces, no bare `".5"` or `"5."`. Leading zeros of the integer part are
   * dropped (`"007.50"` is `7.50`). Returns `undefined` for anything else.
   */
  static fromString(text: string): Decimal | undefined {
    const match = DECIMAL_TEXT.exec(text)
    if (match === null) return undefined
    const [, sign, integer, fraction = ""] = match
    const magnitude = BigInt(integer! + fraction)
    return new Decimal(sign === "-" ? -magnitude : magnitude, fraction.length)
  }

  /** Like {@link Decimal.fromString}, but throws a `SyntaxError` naming the text. */
  static parse(text: string): Decimal {
    const decimal = Decimal.fromString(text)
    if (decimal === undefined) {
      throw new SyntaxError(`expected a decimal string like "2.10", got ${JSON.stringify(text)}`)
    }
    return decimal
  }

  /** Whether `u` is a `Decimal`. */
  static isDecimal(u: unknown): u is Decimal {
    return typeof u === "object" && u !== null && TypeId in u
  }

  /** The canonical text: `-`?, integer digits without leading zeros, `.` and exactly `scale` digits. */
  toString(): string {
    const digits = abs(this.coefficient).toString()
    const sign = this.coefficient < 0n ? "-" : ""
    if (this.scale === 0) return sign + digits
    const padded = digits.padStart(this.scale + 1, "0")
    const cut = padded.length - this.scale
    return `${sign}${padded.slice(0, cut)}.${padded.slice(cut)}`
  }

  toJSON(): string {
    return this.toString()
  }

  /** -1, 0 or 1. */
  get sign(): -1 | 0 | 1 {
    return this.coefficient < 0n ? -1 : this.coefficient > 0n ? 1 : 0
  }

  isZero(): boolean {
    return this.coefficient === 0n
  }

  isNegative(): boolean {
    return this.coefficient < 0n
  }

  /** Digits before the decimal point, at least 1 (`"0.5"` has 1). */
  integerDigits(): number {
    const whole = abs(this.coefficient) / pow10(this.scale)
    return whole === 0n ? 1 : whole.toString().length
  }

  negate(): Decimal {
    return new Decimal(-this.coefficient, this.scale)
  }

  /**
   * The same value written with `scale` fractional digits (`2.1` at scale 3 is
   * `2.100`). Never drops digits: a smaller scale than the value needs throws a
   * `RangeError` (use {@link Decimal.round} to drop digits on purpose).
   */
  withScale(scale: number): Decimal {
    if (scale === this.scale) return this
    if (scale > this.scale) return Decimal.make(this.coefficient * pow10(scale - this.scale), scale)
    const rounded = this.round(scale, "down")
    if (!rounded.equals(this)) {
      throw new RangeError(`${this.toString()} does not fit in ${scale} fractional digits`)
    }
    return rounded
  }

  /** Exact sum; the scale is the larger of the two. */
  add(that: Decimal): Decimal {
    const scale = Math.max(this.scale, that.scale)
    return new Decimal(
      this.coefficient * pow10(scale - this.scale) + that.coefficient * pow10(scale - that.scale),
      scale
    )
  }

  /** Exact difference; the scale is the larger of the two. */
  subtract(that: Decimal): Decimal {
    return this.add(that.negate())
  }

  /** Exact product; the scale is the sum of the two (`2.10 × 10` is `21.00`). */
  multiply(that: Decimal): Decimal {
    return new Decimal(this.coefficient * that.coefficient, this.scale + that.scale)
  }

  /** -1, 0 or 1 as `this` is less than, equal to or greater than `that`. */
  compare(that: Decimal): -1 | 0 | 1 {
    const scale = Math.max(this.scale, that.scale)
    const a = this.coefficient * pow10(scale - this.scale)
    const b = that.coefficient * pow10(scale - that.scale)
    return a < b ? -1 : a > b ? 1 : 0
  }

  /** Same number, whatever the scale (`2.1` equals `2.10`). */
  equals(that: Decimal): boolean {
    return this.compare(that) === 0
  }

  /** The same number with trailing fractional zeros removed (`2.10` becomes `2.1`, `30.00` becomes `30`). */
  normalize(): Decimal {
    let { coefficient, scale } = this
    while (scale > 0 && coefficient % 10n === 0n) {
      coefficient /= 10n
      scale--
    }
    return scale === this.scale ? this : new Decimal(coefficient, scale)
  }

  /**
   * Rounds to `scale` fractional digits with an explicit mode. A value that
   * already fits is returned unchanged (its scale is not reduced).
   *
   * @example
   * Decimal.parse("26.25").round(0, "floor").toString()     // "26"
   * Decimal.parse("2.5").round(0, "half-even").toString()   // "2"
   * Decimal.parse("-2.5").round(0, "half-up").toString()    // "-3"
   */
  round(scale: number, mode: RoundingMode): Decimal {
    if (!Number.isSafeInteger(scale) || scale < 0) {
      throw new RangeError(`rounding scale must be a non-negative integer, got ${String(scale)}`)
    }
    if (this.scale <= scale) return this
    const divisor = pow10(this.scale - scale)
    // BigInt division truncates toward zero; adjust from there.
    const quotient = this.coefficient / divisor
    const remainder = this.coefficient % divisor
    if (remainder === 0n) return new Decimal(quotient, scale)
    const away = this.coefficient < 0n ? quotient - 1n : quotient + 1n
    const twice = abs(remainder) * 2n
    let rounded: bigint
    switch (mode) {
      case "down":
        rounded = quotient
        break
      case "floor":
        rounded = this.coefficient < 0n ? away : quotient
        break
      case "ceil":
        rounded = this.coefficient > 0n ? away : quotient
        break
      case "half-up":
        rounded = twice >= divisor ? away : quotient
        break
      case "half-even":
        rounded = twice > divisor || (twice === divisor && quotient % 2n !== 0n) ? away : quotient
        break
      default:
        throw new RangeError(`unknown rounding mode ${JSON.stringify(mode)}`)
    }
    return new Decimal(rounded, scale)
  }

  /** The value as an integer, rounded with `mode`. */
  toBigInt(mode: RoundingMode): bigint {
    return this.round(0, mode).coefficient
  }

  /** Effect's `Equal` protocol (`Equal.symbol`): the same number, whatever the scale. */
  [EQUAL](that: unknown): boolean {
    return Decimal.isDecimal(that) && this.equals(that)
  }

  /** Effect's `Hash` protocol (`Hash.symbol`): equal numbers hash alike (`2.1` and `2.10`). */
  [HASH](): number {
    this.#hash ??= hashString(this.normalize().toString())
    return this.#hash
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Decimal(${this.toString()})`
  }
}
