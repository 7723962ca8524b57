export * from "./RetryPolicy.ts"
