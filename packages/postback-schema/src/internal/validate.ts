// The checks of a decoded postback (the `Postback` schema's and the plain
// encoders'), in one place and without Effect.
import { Decimal } from "../Decimal.ts"
import type { Postback } from "../Postback.ts"
import { formatIssuePath, formatPostbackIssues, type PostbackIssue } from "../PostbackIssue.ts"
import type { Issue } from "./decode.ts"

type Field = { readonly [key: string]: unknown }

const at = (u: Field, path: ReadonlyArray<string>): unknown => {
  let actual: unknown = u
  for (const key of path) actual = (actual as Field)[key]
  return actual
}

/**
 * Each bad field of a would-be {@link Postback}: a non-empty `offerId`, a
 * string `advertiserName`, a non-negative `Decimal` payout, a valid `Date`, a
 * boolean `isLoyaltyBoost`, string payload values. Empty when it is one.
 */
export const postbackProblems = (u: unknown): Array<Issue> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) {
    return [{ path: [], message: "expected a Postback object", actual: u }]
  }
  const f = u as Field
  const problems: Array<readonly [ReadonlyArray<string>, string]> = []
  if (typeof f.offerId !== "string" || f.offerId === "") {
    problems.push([["offerId"], "expected a non-empty string"])
  }
  if (typeof f.advertiserName !== "string") problems.push([["advertiserName"], "expected a string"])
  if (!Decimal.isDecimal(f.payout)) problems.push([["payout"], "expected a Decimal"])
  else if (f.payout.isNegative()) problems.push([["payout"], "must not be negative"])
  if (!(f.timestamp instanceof Date) || Number.isNaN(f.timestamp.getTime())) {
    problems.push([["timestamp"], "expected a valid Date"])
  }
  if (typeof f.isLoyaltyBoost !== "boolean") {
    problems.push([["isLoyaltyBoost"], "expected a boolean"])
  }
  const payload = f.payload
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    problems.push([["payload"], "expected a record of strings"])
  } else {
    for (const key of Object.keys(payload)) {
      if (typeof (payload as Field)[key] !== "string") {
        problems.push([["payload", key], "expected a string"])
      }
    }
  }
  return problems.map(([path, message]) => ({ path, message, actual: at(f, path) }))
}

/** The decoder's issues as the public {@link PostbackIssue}s (paths as text). */
export const toPostbackIssues = (issues: ReadonlyArray<Issue>): Array<PostbackIssue> =>
  issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }))

/** A `TypeError` listing every problem, for the encoders. */
export const encodeError = (issues: ReadonlyArray<Issue>): TypeError =>
  new TypeError(`cannot encode the postback: ${formatPostbackIssues(toPostbackIssues(issues))}`)
