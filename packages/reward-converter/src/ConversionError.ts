import { type Cause, Data } from "effect"

/** Why a conversion was refused. */
export type ConversionErrorReason =
  /** The payout is not a `Decimal` nor plain decimal text. */
  | "InvalidPayout"
  /** The payout is below zero. */
  | "NegativePayout"
  /** A context field has the wrong type, or `at` is an invalid `Date`. */
  | "InvalidContext"
  /** The rules have campaigns but the context has no `at`. */
  | "MissingTimestamp"
  /** The result exceeds `MAX_POINTS`. */
  | "PointsOutOfRange"

const ConversionErrorBase: new (args: {
  readonly reason: ConversionErrorReason
  readonly field: string
  readonly message: string
}) => Cause.YieldableError & {
  readonly _tag: "ConversionError"
  readonly reason: ConversionErrorReason
  readonly field: string
} = Data.TaggedError("ConversionError")

/**
 * Input that cannot be converted: the message names the field (`payout`,
 * `at`, ...) and the bad value. A conversion the rules simply do not credit
 * is not an error (see `ConversionResult.credited`).
 */
export class ConversionError extends ConversionErrorBase {}
