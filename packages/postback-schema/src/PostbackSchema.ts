import { Effect, Schema, SchemaGetter } from "effect"
import { Decimal } from "./Decimal.ts"
import { toSchemaIssue } from "./internal/issue.ts"
import { postbackProblems } from "./internal/validate.ts"
import type { Postback as PostbackValue } from "./Postback.ts"

/**
 * One conversion reported by MomentScience, decoded (the same type as
 * `Postback` of `@org/postback-schema/plain`, declared without Effect).
 */
export type Postback = PostbackValue

// Generated values for property tests (`Arbitrary.schema`, `it.prop` of
// @effect/vitest): a decimal as an integer coefficient and a scale.
const DecimalParts = Schema.Struct({
  coefficient: Schema.BigInt.check(
    Schema.isBetweenBigInt({ minimum: 0n, maximum: 10n ** 12n - 1n })
  ),
  scale: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 }))
})

const decimalFromParts = SchemaGetter.transform(
  (parts: typeof DecimalParts.Type): Decimal => Decimal.make(parts.coefficient, parts.scale)
)
const decimalToParts = SchemaGetter.transform((decimal: Decimal): typeof DecimalParts.Type => ({
  coefficient: decimal.coefficient,
  scale: decimal.scale
}))

/** A {@link Decimal} value, as an Effect Schema (the decoded side of payout codecs). */
export const DecimalFromSelf: Schema.declare<Decimal> = Schema.declare(Decimal.isDecimal, {
  identifier: "Decimal",
  description: "an exact decimal number",
  expected: "a Decimal",
  toFormatter: () => (decimal) => `Decimal(${decimal.toString()})`,
  toEquivalence: () => (a, b) => a.equals(b),
  toCodecArbitrary: () =>
    Schema.link<Decimal>()(DecimalParts, { decode: decimalFromParts, encode: decimalToParts })
})

// Postbacks that the wire forms carry with the default options.
const PostbackParts = Schema.Struct({
  offerId: Schema.String.check(Schema.isBetweenLength(1, 24)),
  advertiserName: Schema.String.check(Schema.isMaxLength(40)),
  payout: DecimalParts,
  timestamp: Schema.Date.check(
    Schema.isBetweenDate({
      minimum: new Date("0001-01-01T00:00:00.000Z"),
      maximum: new Date("9999-12-31T23:59:59.999Z")
    })
  ),
  isLoyaltyBoost: Schema.Boolean,
  payload: Schema.Record(
    Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.-]{1,24}$/)),
    Schema.String.check(Schema.isMaxLength(40))
  ).check(Schema.isMaxProperties(10))
})

const postbackFromParts = SchemaGetter.transform(
  (parts: typeof PostbackParts.Type): Postback => ({
    ...parts,
    payout: Decimal.make(parts.payout.coefficient, parts.payout.scale)
  })
)
const postbackToParts = SchemaGetter.transform((postback: Postback): typeof PostbackParts.Type => ({
  ...postback,
  payload: { ...postback.payload },
  payout: { coefficient: postback.payout.coefficient, scale: postback.payout.scale }
}))

const equivalent = (a: Postback, b: Postback): boolean =>
  a.offerId === b.offerId &&
  a.advertiserName === b.advertiserName &&
  a.payout.equals(b.payout) &&
  a.timestamp.getTime() === b.timestamp.getTime() &&
  a.isLoyaltyBoost === b.isLoyaltyBoost &&
  Object.keys(a.payload).length === Object.keys(b.payload).length &&
  Object.keys(a.payload).every(
    (key) => Object.hasOwn(b.payload, key) && a.payload[key] === b.payload[key]
  )

/**
 * The decoded {@link Postback} as a schema of its own (no wire encoding): the
 * type side of `PostbackJson` and `PostbackQuery`. It checks a value in place
 * and keeps it as it is (a `Struct` would copy every postback it decodes),
 * reporting each bad field: a non-empty `offerId`, a non-negative `Decimal`
 * payout, a valid `Date`, string payload values. It has an equivalence and
 * generates postbacks for property tests (`Arbitrary.schema(Postback)`).
 */
export const Postback: Schema.declare<Postback> = Schema.declareConstructor<Postback>()(
  [],
  () => (input, ast) => {
    const problems = postbackProblems(input)
    return problems.length === 0
      ? Effect.succeed(input as Postback)
      : Effect.fail(toSchemaIssue(ast, input, problems))
  },
  {
    identifier: "Postback",
    description: "a decoded MomentScience postback",
    toFormatter: () => (postback) =>
      `Postback(${JSON.stringify({ ...postback, payout: postback.payout.toString() })})`,
    toEquivalence: () => equivalent,
    toCodecArbitrary: () =>
      Schema.link<Postback>()(PostbackParts, { decode: postbackFromParts, encode: postbackToParts })
  }
)
