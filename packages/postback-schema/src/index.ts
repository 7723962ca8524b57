export * from "./WireFields.ts"
