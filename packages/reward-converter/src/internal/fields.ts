// Field schemas of the rules file, each next to its JSON Schema fragment (the
// committed reward-rules.schema.json is built from these fragments). Each field
// also carries a `problem` annotation: one message that names the problem and
// the value, so that a bad field gives one clear issue rather than everything
// Effect Schema tried (see ./issues.ts).
import { Decimal, DecimalFromSelf } from "@org/postback-schema"
import { Schema, SchemaTransformation } from "effect"
import { problem } from "./issues.ts"

/** The largest number of points one conversion may produce: `2^53 - 1`. */
export const MAX_POINTS_BIGINT: bigint = 9007199254740991n

/** A JSON Schema fragment, written out by hand. */
export type JsonSchemaFragment = { readonly [keyword: string]: unknown }

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

// Plain decimal notation without a sign, exactly what `Decimal.fromString` reads.
const NON_NEGATIVE_DECIMAL = /^\d+(?:\.\d+)?$/

const DECIMAL_DESCRIPTION = 'a non-negative decimal number written as a string, like "12.5"'

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
export const NonNegativeDecimalText: Schema.Codec<Decimal, string> = Schema.String.check(
  Schema.isPattern(NON_NEGATIVE_DECIMAL, { expected: DECIMAL_DESCRIPTION })
)
  .pipe(
    Schema.decodeTo(
      DecimalFromSelf.check(
        Schema.makeFilter((decimal: Decimal) => !decimal.isNegative(), {
          expected: "a non-negative Decimal"
        })
      ),
      SchemaTransformation.transform({
        decode: (text: string) => Decimal.parse(text),
        encode: (decimal: Decimal) => decimal.toString()
      })
    )
  )
  .annotate({ description: DECIMAL_DESCRIPTION, ...problem(decimalProblem) })

export const nonNegativeDecimalTextJson: JsonSchemaFragment = {
  type: "string",
  description: DECIMAL_DESCRIPTION,
  pattern: NON_NEGATIVE_DECIMAL.source
}

const DIGITS = /^\d+$/

const POINTS_DESCRIPTION = "a whole number of points, as a JSON integer or a string of digits"

const pointsProblem = (actual: unknown): string =>
  `expected a whole number of points from 0 to ${MAX_POINTS_BIGINT} (a JSON integer or a string of digits), got ${describe(actual)}`

/** Whole points: a JSON integer or a digit string, 0 to `MAX_POINTS`, decoded to a `bigint`. */
export const PointsAmount: Schema.Codec<bigint, number | string> = Schema.Union([
  Schema.Number.check(
    Schema.isInt(),
    Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  ),
  Schema.String.check(
    Schema.isPattern(DIGITS, { expected: "a string of digits" }),
    // every check runs (errors: "all"): text that is not digits is the pattern's to report
    Schema.makeFilter(
      (digits: string) => !DIGITS.test(digits) || BigInt(digits) <= MAX_POINTS_BIGINT,
      {
        expected: `at most ${MAX_POINTS_BIGINT} points`
      }
    )
  )
])
  .pipe(
    Schema.decodeTo(
      Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: MAX_POINTS_BIGINT })),
      SchemaTransformation.transform<bigint, number | string>({
        decode: (points) => BigInt(points),
        encode: (points) => points.toString()
      })
    )
  )
  .annotate({ description: POINTS_DESCRIPTION, ...problem(pointsProblem) })

export const pointsAmountJson: JsonSchemaFragment = {
  anyOf: [
    { type: "integer", minimum: 0, maximum: Number(MAX_POINTS_BIGINT) },
    { type: "string", pattern: DIGITS.source }
  ],
  description: POINTS_DESCRIPTION
}

// An instant with an explicit offset: without one, `Date` would read the text
// in the local time zone of whatever machine loads the file.
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/

const INSTANT_DESCRIPTION = 'an ISO 8601 instant with a time zone, like "2024-11-29T00:00:00Z"'

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
export const Instant: Schema.Codec<Date, string> = Schema.String.check(
  Schema.isPattern(INSTANT, { expected: INSTANT_DESCRIPTION }),
  Schema.makeFilter((text: string) => !INSTANT.test(text) || readInstant(text) !== undefined, {
    expected: "an instant on a day that exists"
  })
)
  .pipe(
    Schema.decodeTo(
      Schema.Date,
      SchemaTransformation.transform({
        // the filters above accepted the text, so it reads as a valid instant
        decode: (text: string) => readInstant(text) as Date,
        encode: (date: Date) => date.toISOString()
      })
    )
  )
  .annotate({ description: INSTANT_DESCRIPTION, ...problem(instantProblem) })

export const instantJson: JsonSchemaFragment = {
  type: "string",
  description: INSTANT_DESCRIPTION,
  pattern: INSTANT.source
}

/** A string of at least one character. */
export const NonEmptyText: Schema.Codec<string> = Schema.String.check(
  Schema.isMinLength(1)
).annotate(problem((actual) => `expected a non-empty string, got ${describe(actual)}`))

export const nonEmptyTextJson: JsonSchemaFragment = { type: "string", minLength: 1 }

const NOTE_DESCRIPTION = "a note for the people who maintain the rules (ignored by the converter)"

/** A free-text note for the people who maintain the rules file. */
export const Note: Schema.Codec<string> = Schema.String.annotate({
  description: NOTE_DESCRIPTION,
  ...problem((actual) => `expected a string, got ${describe(actual)}`)
})

export const noteJson: JsonSchemaFragment = { type: "string", description: NOTE_DESCRIPTION }

/** One of a few literal strings. */
export const oneOf = <const L extends readonly [string, ...Array<string>]>(
  values: L,
  description: string
): Schema.Codec<L[number]> =>
  Schema.Literals(values).annotate({
    description,
    ...problem(
      (actual) =>
        `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(actual)}`
    )
  })

/** The JSON Schema fragment of {@link oneOf}. */
export const oneOfJson = (
  values: ReadonlyArray<string>,
  description: string
): JsonSchemaFragment => ({ type: "string", enum: [...values], description })

/** A non-empty array of non-empty strings (offer ids, advertiser names). */
export const NonEmptyTexts: Schema.Codec<ReadonlyArray<string>> = Schema.Array(NonEmptyText)
  .check(Schema.isMinLength(1))
  .annotate(problem((actual) => `expected a non-empty array of strings, got ${describe(actual)}`))

export const nonEmptyTextsJson: JsonSchemaFragment = {
  type: "array",
  items: nonEmptyTextJson,
  minItems: 1
}
