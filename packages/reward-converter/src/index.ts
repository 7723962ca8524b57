export * from "./Rounding.ts"
