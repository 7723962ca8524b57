export * from "./Conversion.ts"
export * from "./ConversionError.ts"
export * from "./Explanation.ts"
export * from "./RewardRules.ts"
