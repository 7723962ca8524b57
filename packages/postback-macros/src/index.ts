export * from "./Macro.ts"
