// The JSON Schema of the POST body, written next to the rules it describes
// (./internal/fields.ts) and checked against them in the tests.
import {
  DEFAULT_POSTBACK_OPTIONS,
  type PostbackOptions,
  resolvePostbackOptions
} from "./PostbackOptions.ts"

/**
 * The JSON Schema (draft 7) of a POST body that the decoders accept with
 * `options` (the defaults when left out): the document committed as
 * `postback.schema.json`, exported as `@org/postback-schema/postback.schema.json`.
 * Throws a `RangeError` or `TypeError` naming a bad option.
 *
 * @example
 * import { postbackJsonSchema } from "@org/postback-schema"
 *
 * const schema = postbackJsonSchema({ maxPayloadKeys: 10 })
 * schema.properties.payload.maxProperties // 10
 */
export const postbackJsonSchema = (options?: PostbackOptions): PostbackJsonSchemaDocument => {
  const o = options === undefined ? DEFAULT_POSTBACK_OPTIONS : resolvePostbackOptions(options)
  const fraction =
    o.maxPayoutFractionDigits > 0 ? `(\\.[0-9]{1,${o.maxPayoutFractionDigits}})?` : ""
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
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
    additionalProperties: true,
    description: "The JSON body of a MomentScience POST postback",
    title: "MomentScience postback"
  }
}

/**
 * A JSON Schema document (draft 7) of the POST body; the properties are the
 * postback's fields. Other members are plain JSON Schema keywords.
 */
export interface PostbackJsonSchemaDocument {
  readonly $schema: string
  readonly type: "object"
  readonly required: ReadonlyArray<string>
  readonly properties: { readonly [field: string]: { readonly [keyword: string]: unknown } }
  readonly additionalProperties: boolean
  readonly description: string
  readonly title: string
}
