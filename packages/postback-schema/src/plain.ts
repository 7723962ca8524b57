// The Effect-free part of the API (`@org/postback-schema/plain`): decoding,
// encoding, Decimal, the issue helpers, the Standard Schemas and the JSON
// Schema. Nothing reachable from here imports `effect`.
export * from "./CanonicalKey.ts"
export * from "./Decimal.ts"
export * from "./Encode.ts"
export * from "./Parse.ts"
export type { Postback } from "./Postback.ts"
export * from "./PostbackIssue.ts"
export type { PostbackJsonEncoded, PostbackWire } from "./PostbackJson.ts"
export * from "./PostbackJsonSchema.ts"
export * from "./PostbackOptions.ts"
export type { PostbackQueryEncoded } from "./PostbackQuery.ts"
export * from "./RequestBody.ts"
export * from "./StandardSchema.ts"
export * from "./WireFields.ts"
