import { WIRE_FIELDS, type WireField } from "@org/postback-schema"

/** The macros MomentScience fills from the postback's own fields. */
export const BUILTIN_MACROS: ReadonlyArray<WireField> = WIRE_FIELDS

/**
 * A macro name is a built-in field or a payload key; payload keys follow
 * MomentScience's guidance (letters, digits, underscores).
 */
export const isMacroName = (name: string): boolean => /^[A-Za-z0-9_]+$/.test(name)
