// Field schemas of the rules file. Each one carries a single message that
// names the problem and the value, so that a bad field gives one clear issue
// rather than the union of everything Effect Schema tried.
import { Decimal, DecimalFromSelf } from "@org/postback-schema"
import { ParseResult, Schema } from "effect"

/** The largest number of points one conversion may produce: `2^53 - 1`. */
export const MAX_POINTS_BIGINT: bigint = 9007199254740991n

/** A short, unambiguous rendering of a value for error messages. */
export const describe = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "bigint") return `${u}n`
  if (u === null || typeof u === "number" || typeof u === "boolean" || u === undefined) {
    return String(u)
  }
  if (Decimal.isDecimal(u)) return `Decimal(${u.toString()})`
  if (u instanceof Date) return Number.isNaN(u.getTime()) ? "Invalid Date" : u.toISOString()
  if (Array.isArray(u)) return "an array"
  return `a value of type ${typeof u}`
}

const overriding = (message: (actual: unknown) => string) => (issue: ParseResult.ParseIssue) => ({
  message: message(issue.actual),
  override: true
})

// Plain decimal notation without a sign, exactly what `Decimal.fromString` reads.
const NON_NEGATIVE_DECIMAL = /^\d+(?:\.\d+)?$/

const decimalProblem = (actual: unknown): string => {
  if (typeof actual === "number") {
    return `expected a decimal string like "12.5", got the number ${actual} (write decimals as strings: JSON numbers are floating point)`
  }
  if (typeof actual === "string" && Decimal.fromString(actual)?.isNegative() === true) {
    return `must not be negative, got ${describe(actual)}`
  }
  if (Decimal.isDecimal(actual) && actual.isNegative()) {
    return `must not be negative, got ${describe(actual)}`
  }
  return `expected a non-negative decimal string like "12.5", got ${describe(actual)}`
}

/** A non-negative decimal written as a string (`"12.5"`), decoded to a {@link Decimal}. */
export const NonNegativeDecimalText: Schema.Schema<Decimal, string> = Schema.transform(
  Schema.String.pipe(Schema.pattern(NON_NEGATIVE_DECIMAL)),
  DecimalFromSelf.pipe(
    Schema.filter((d) => !d.isNegative() || `must not be negative, got ${describe(d.toString())}`)
  ),
  { strict: true, decode: (text) => Decimal.parse(text), encode: (decimal) => decimal.toString() }
).annotations({
  description: 'a non-negative decimal number written as a string, like "12.5"',
  message: overriding(decimalProblem)
})

const pointsProblem = (actual: unknown): string =>
  `expected a whole number of points from 0 to ${MAX_POINTS_BIGINT} (a JSON integer or a string of digits), got ${describe(actual)}`

/** Whole points: a JSON integer or a digit string, 0 to `MAX_POINTS`, decoded to a `bigint`. */
export const PointsAmount: Schema.Schema<bigint, number | string> = Schema.transformOrFail(
  Schema.Union(
    Schema.Number.pipe(Schema.int(), Schema.between(0, Number.MAX_SAFE_INTEGER)).annotations({
      jsonSchema: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
    }),
    Schema.String.pipe(Schema.pattern(/^\d+$/)).annotations({
      jsonSchema: { type: "string", pattern: "^\\d+$" }
    })
  ),
  Schema.BigIntFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      const points = BigInt(input)
      return points <= MAX_POINTS_BIGINT
        ? ParseResult.succeed(points)
        : ParseResult.fail(new ParseResult.Type(ast, input, pointsProblem(input)))
    },
    encode: (points, _, ast) =>
      points >= 0n && points <= MAX_POINTS_BIGINT
        ? ParseResult.succeed(points.toString())
        : ParseResult.fail(new ParseResult.Type(ast, points, pointsProblem(points)))
  }
).annotations({
  description: "a whole number of points, as a JSON integer or a string of digits",
  message: overriding(pointsProblem)
})

// An instant with an explicit offset: without one, `Date` would read the text
// in the local time zone of whatever machine loads the file.
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/

const instantProblem = (actual: unknown): string =>
  `expected an ISO 8601 instant with a time zone, like "2024-11-29T00:00:00Z", got ${describe(actual)}`

const readInstant = (text: string): Date | undefined => {
  const match = INSTANT.exec(text)
  if (match === null) return undefined
  const [, year, month, day] = match
  // Date.parse rolls "2024-02-30" over to March 1st instead of refusing it.
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate()
  if (Number(month) < 1 || Number(day) < 1 || Number(day) > daysInMonth) return undefined
  const time = Date.parse(text)
  return Number.isNaN(time) ? undefined : new Date(time)
}

/** An ISO 8601 instant with an explicit `Z` or offset, decoded to a `Date`. */
export const Instant: Schema.Schema<Date, string> = Schema.transformOrFail(
  Schema.String.pipe(Schema.pattern(INSTANT)),
  Schema.ValidDateFromSelf,
  {
    strict: true,
    decode: (text, _, ast) => {
      const date = readInstant(text)
      return date === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, text, instantProblem(text)))
        : ParseResult.succeed(date)
    },
    encode: (date) => ParseResult.succeed(date.toISOString())
  }
).annotations({
  description: 'an ISO 8601 instant with a time zone, like "2024-11-29T00:00:00Z"',
  message: overriding(instantProblem)
})

/** A string of at least one character. */
export const NonEmptyText: Schema.Schema<string> = Schema.String.pipe(
  Schema.minLength(1)
).annotations({
  jsonSchema: { type: "string", minLength: 1 },
  message: overriding((actual) => `expected a non-empty string, got ${describe(actual)}`)
})

/** A free-text note for the people who maintain the rules file. */
export const Note: Schema.Schema<string> = Schema.String.annotations({
  description: "a note for the people who maintain the rules (ignored by the converter)",
  message: overriding((actual) => `expected a string, got ${describe(actual)}`)
})

/** One of a few literal strings. */
export const oneOf = <const L extends readonly [string, ...Array<string>]>(
  values: L,
  description: string
): Schema.Schema<L[number]> =>
  Schema.Literal(...values).annotations({
    description,
    message: overriding(
      (actual) =>
        `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(actual)}`
    )
  })

/** A non-empty array of non-empty strings (offer ids, advertiser names). */
export const NonEmptyTexts: Schema.Schema<ReadonlyArray<string>> = Schema.Array(NonEmptyText).pipe(
  Schema.minItems(1),
  Schema.annotations({
    jsonSchema: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
    message: (issue) => `expected a non-empty array of strings, got ${describe(issue.actual)}`
  })
)
