export * from "./Decimal.ts"
export * from "./Postback.ts"
export * from "./WireFields.ts"
