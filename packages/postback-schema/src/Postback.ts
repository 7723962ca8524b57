import { type Effect, ParseResult, Schema, type SchemaAST } from "effect"
import { Decimal } from "./Decimal.ts"

/** A {@link Decimal} value, as an Effect Schema (the decoded side of payout codecs). */
export const DecimalFromSelf: Schema.declare<Decimal> = Schema.declare(Decimal.isDecimal, {
  identifier: "Decimal",
  description: "an exact decimal number",
  pretty: () => (decimal) => `Decimal(${decimal.toString()})`,
  arbitrary: () => (fc) =>
    fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 4 }))
      .map(([coefficient, scale]) => Decimal.make(coefficient, scale)),
  equivalence: () => (a, b) => a.equals(b)
})

/**
 * One conversion reported by MomentScience, decoded: the value every wire form
 * (POST JSON, GET query, GET macro template) turns into.
 */
export interface Postback {
  /** The offer's identifier (`offer_id`), never empty. */
  readonly offerId: string
  /** The advertiser's name (`advertiser_name`). */
  readonly advertiserName: string
  /** Revenue of the conversion in USD (`payout`), exact and non-negative. */
  readonly payout: Decimal
  /** When the conversion was recorded (`timestamp`). */
  readonly timestamp: Date
  /** Whether the offer is a LoyaltyBoost offer (`is_loyaltyboost`). */
  readonly isLoyaltyBoost: boolean
  /** Custom values passed when the offer was served (`user_id`, `session_id`, ...). */
  readonly payload: { readonly [key: string]: string }
}

type Field = { readonly [key: string]: unknown }

/** Each bad field of a would-be postback, as `[path, message]`. */
const problemsOf = (u: Field): Array<readonly [readonly [string, ...Array<string>], string]> => {
  const problems: Array<readonly [readonly [string, ...Array<string>], string]> = []
  if (typeof u.offerId !== "string" || u.offerId === "") {
    problems.push([["offerId"], "expected a non-empty string"])
  }
  if (typeof u.advertiserName !== "string") problems.push([["advertiserName"], "expected a string"])
  if (!Decimal.isDecimal(u.payout)) problems.push([["payout"], "expected a Decimal"])
  else if (u.payout.isNegative()) problems.push([["payout"], "must not be negative"])
  if (!(u.timestamp instanceof Date) || Number.isNaN(u.timestamp.getTime())) {
    problems.push([["timestamp"], "expected a valid Date"])
  }
  if (typeof u.isLoyaltyBoost !== "boolean")
    problems.push([["isLoyaltyBoost"], "expected a boolean"])
  const payload = u.payload
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    problems.push([["payload"], "expected a record of strings"])
  } else {
    for (const key of Object.keys(payload)) {
      if (typeof (payload as Field)[key] !== "string") {
        problems.push([["payload", key], "expected a string"])
      }
    }
  }
  return problems
}

const validate = (
  u: unknown,
  _: SchemaAST.ParseOptions,
  ast: SchemaAST.Declaration
): Effect.Effect<Postback, ParseResult.ParseIssue> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) {
    return ParseResult.fail(new ParseResult.Type(ast, u, "expected a Postback object"))
  }
  const problems = problemsOf(u as Field)
  if (problems.length === 0) return ParseResult.succeed(u as Postback)
  const [first, ...rest] = problems.map(([path, message]) => {
    let actual: unknown = u
    for (const key of path) actual = (actual as Field)[key]
    return new ParseResult.Pointer(path, u, new ParseResult.Type(ast, actual, message))
  })
  return ParseResult.fail(
    rest.length === 0 ? first! : new ParseResult.Composite(ast, u, [first!, ...rest])
  )
}

/**
 * The decoded {@link Postback} as a schema of its own (no wire encoding): the
 * type side of `PostbackJson` and `PostbackQuery`. It checks a value in place
 * and keeps it as it is (a `Struct` would copy every postback it decodes),
 * reporting each bad field: a non-empty `offerId`, a non-negative `Decimal`
 * payout, a valid `Date`, string payload values.
 */
export const Postback: Schema.Schema<Postback> = Schema.declare(
  [],
  { decode: () => validate, encode: () => validate },
  {
    identifier: "Postback",
    description: "a decoded MomentScience postback",
    pretty: () => (postback) =>
      `Postback(${JSON.stringify({ ...postback, payout: postback.payout.toString() })})`,
    // Postbacks that the wire forms carry with the default options.
    arbitrary: () => (fc) =>
      fc.record({
        offerId: fc.string({ minLength: 1, maxLength: 24 }),
        advertiserName: fc.string({ maxLength: 40 }),
        payout: fc
          .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }), fc.integer({ min: 0, max: 4 }))
          .map(([coefficient, scale]) => Decimal.make(coefficient, scale)),
        timestamp: fc.date({
          min: new Date("0000-01-01T00:00:00.000Z"),
          max: new Date("9999-12-31T23:59:59.999Z"),
          noInvalidDate: true
        }),
        isLoyaltyBoost: fc.boolean(),
        payload: fc.dictionary(
          fc.stringMatching(/^[A-Za-z0-9_.-]{1,24}$/),
          fc.string({ maxLength: 40 }),
          {
            maxKeys: 10
          }
        )
      }),
    equivalence: () => (a, b) =>
      a.offerId === b.offerId &&
      a.advertiserName === b.advertiserName &&
      a.payout.equals(b.payout) &&
      a.timestamp.getTime() === b.timestamp.getTime() &&
      a.isLoyaltyBoost === b.isLoyaltyBoost &&
      Object.keys(a.payload).length === Object.keys(b.payload).length &&
      Object.keys(a.payload).every(
        (key) => Object.hasOwn(b.payload, key) && a.payload[key] === b.payload[key]
      )
  }
)
