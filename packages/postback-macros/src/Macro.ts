import { WIRE_FIELDS, type WireField } from "@org/postback-schema/plain"

/**
 * The macros MomentScience fills from the postback's own fields:
 * `offer_id`, `advertiser_name`, `payout`, `timestamp`, `is_loyaltyboost`.
 * Any other macro name is a payload key.
 */
export const BUILTIN_MACROS: ReadonlyArray<WireField> = WIRE_FIELDS

const MACRO_NAME = /^[A-Za-z0-9_]+$/

/**
 * Whether `name` can stand between braces: a built-in field or a payload
 * key, following MomentScience's guidance for payload names (ASCII letters,
 * digits and underscores). Names are case-sensitive.
 *
 * @example
 * isMacroName("user_id")  // true
 * isMacroName("user-id")  // false
 */
export const isMacroName = (name: string): boolean => MACRO_NAME.test(name)
