// The schemas of both wire forms, around the decoder (./decode.ts): its
// issues as `ParseIssue`s, the encoders (printing through `wireValue`), and the
// JSON Schema of the POST body, written next to the rules it describes
// (./fields.ts) and checked against them in the tests.
import { type Either, ParseResult, Schema, type SchemaAST } from "effect"
import { Postback } from "../Postback.ts"
import { formatPostbackIssues, issuesFromParseIssue } from "../PostbackDecodeError.ts"
import type { PostbackJsonEncoded, PostbackWire } from "../PostbackJson.ts"
import type { ResolvedPostbackOptions } from "../PostbackOptions.ts"
import type { PostbackQueryEncoded } from "../PostbackQuery.ts"
import { isWireField, WIRE_FIELDS, wireValue } from "../WireFields.ts"
import { decodeJsonBody, decodeQuery, type Issue, isIssues } from "./decode.ts"

/** The decoder's issues as one `ParseIssue` (a `Composite` of `Pointer`s when there are several). */
export const toParseIssue = (
  ast: SchemaAST.AST,
  input: unknown,
  issues: ReadonlyArray<Issue>
): ParseResult.ParseIssue => {
  const [first, ...rest] = issues.map((issue): ParseResult.ParseIssue => {
    const type = new ParseResult.Type(ast, issue.actual, issue.message)
    const [head, ...tail] = issue.path
    return head === undefined ? type : new ParseResult.Pointer([head, ...tail], input, type)
  })
  return rest.length === 0 ? first! : new ParseResult.Composite(ast, input, [first!, ...rest])
}

/** The encoded value, or a `TypeError` listing every problem as the decoders would. */
export const encodedOrThrow = <A>(encoded: Either.Either<A, ParseResult.ParseIssue>): A => {
  if (encoded._tag === "Right") return encoded.right
  throw new TypeError(
    `cannot encode the postback: ${formatPostbackIssues(issuesFromParseIssue(encoded.left))}`
  )
}

/** The JSON Schema (draft 7) of a POST body the decoder accepts with options `o`. */
export const postBodyJsonSchema = (o: ResolvedPostbackOptions): object => {
  const fraction =
    o.maxPayoutFractionDigits > 0 ? `(\\.[0-9]{1,${o.maxPayoutFractionDigits}})?` : ""
  return {
    type: "object",
    required: ["offer_id", "payout", "timestamp", "is_loyaltyboost"],
    properties: {
      offer_id: {
        description:
          'The offer\'s identifier, e.g. "1511" (a JSON integer is accepted and stringified)',
        anyOf: [
          { type: "string", minLength: 1, maxLength: o.maxFieldLength },
          { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
        ]
      },
      advertiser_name: {
        description: 'The advertiser, e.g. "MomentScience" (may be left out when unknown: empty)',
        type: "string",
        maxLength: o.maxFieldLength
      },
      payout: {
        description:
          'Revenue of the conversion in USD, a non-negative decimal string such as "2.10". A JSON number is accepted when it prints in plain notation, but cannot keep trailing zeros',
        anyOf: [
          {
            type: "string",
            pattern: `^0*[0-9]{1,${o.maxPayoutIntegerDigits}}${fraction}$`
          },
          { type: "number", minimum: 0 }
        ]
      },
      timestamp: {
        description:
          'When the conversion was recorded: ISO 8601 (RFC 3339) with Z or an offset, e.g. "2023-09-20T15:27:40.802Z"',
        type: "string",
        format: "date-time",
        pattern:
          "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:?[0-9]{2})$"
      },
      is_loyaltyboost: {
        description:
          'Whether the offer is a LoyaltyBoost offer: "1" or "0" (also 1/0 and true/false)',
        enum: ["1", "0", 1, 0, true, false]
      },
      payload: {
        description:
          "Custom values passed when the offer was served (user_id, session_id, ...). Strings; numbers and booleans are stringified",
        type: "object",
        maxProperties: o.maxPayloadKeys,
        propertyNames: { pattern: o.payloadKeyPattern.source },
        additionalProperties: {
          anyOf: [
            { type: "string", maxLength: o.maxPayloadValueLength },
            { type: "number" },
            { type: "boolean" }
          ]
        }
      }
    },
    additionalProperties: true
  }
}

/**
 * The canonical wire form of a postback, each field printed by `wireValue`
 * and the payload copied. Does not check the postback (the schemas' encoders
 * do).
 */
export const postbackToWire = (postback: Postback): PostbackWire => ({
  offer_id: wireValue(postback, "offer_id"),
  advertiser_name: wireValue(postback, "advertiser_name"),
  payout: wireValue(postback, "payout"),
  timestamp: wireValue(postback, "timestamp"),
  is_loyaltyboost: postback.isLoyaltyBoost ? "1" : "0",
  payload: { ...postback.payload }
})

const isObject = (u: unknown): u is PostbackJsonEncoded =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The POST body schema for options `o` (see `makePostbackJson`). */
export const postbackJsonSchema = (
  o: ResolvedPostbackOptions
): Schema.Schema<Postback, PostbackJsonEncoded> =>
  Schema.transformOrFail(
    // The body only has to be an object here: the decoder checks every field
    // itself, so that all problems are reported at once.
    Schema.declare(isObject, {
      title: "MomentScience postback",
      description: "The JSON body of a MomentScience POST postback",
      jsonSchema: postBodyJsonSchema(o),
      message: (issue) => ({
        message: `expected a JSON object with the postback fields, got ${describeRoot(issue.actual)}`,
        override: true
      })
    }),
    Postback,
    {
      strict: true,
      decode: (input, _, ast) => {
        const decoded = decodeJsonBody(input, o)
        return isIssues(decoded)
          ? ParseResult.fail(toParseIssue(ast, input, decoded))
          : ParseResult.succeed(decoded)
      },
      encode: (postback) => ParseResult.succeed(postbackToWire(postback))
    }
  )

const describeRoot = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "an array" : typeof u

const isQueryInput = (u: unknown): u is PostbackQueryEncoded =>
  u instanceof URLSearchParams || (typeof u === "object" && u !== null && !Array.isArray(u))

/** The GET query schema for options `o` (see `makePostbackQuery`). */
export const postbackQuerySchema = (
  o: ResolvedPostbackOptions
): Schema.Schema<Postback, PostbackQueryEncoded> =>
  Schema.transformOrFail(
    Schema.declare(isQueryInput, {
      description: "The query parameters of a MomentScience GET postback",
      message: (issue) => ({
        message: `expected URLSearchParams or a record of query parameters, got ${typeof issue.actual}`,
        override: true
      })
    }),
    Postback,
    {
      strict: true,
      decode: (input, _, ast) => {
        const decoded = decodeQuery(input, o)
        return isIssues(decoded)
          ? ParseResult.fail(toParseIssue(ast, input, decoded))
          : ParseResult.succeed(decoded)
      },
      encode: (postback, _, ast) => {
        const query = new URLSearchParams()
        for (const field of WIRE_FIELDS) query.append(field, wireValue(postback, field))
        const issues = []
        for (const key in postback.payload) {
          if (!Object.hasOwn(postback.payload, key)) continue
          const value = postback.payload[key]!
          const clash = isWireField(key)
            ? "it is the name of a postback field"
            : o.exclude.has(key)
              ? "it is a name excluded from queries (the exclude option)"
              : undefined
          if (clash === undefined) query.append(key, value)
          else {
            issues.push({
              path: ["payload", key],
              message: `cannot be sent as a GET query parameter: ${clash}`,
              actual: value
            })
          }
        }
        return issues.length > 0
          ? ParseResult.fail(toParseIssue(ast, postback, issues))
          : ParseResult.succeed(query)
      }
    }
  )
