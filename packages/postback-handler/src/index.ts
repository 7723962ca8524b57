export * from "./Delivery.ts"
export * from "./Identity.ts"
export * from "./Ingest.ts"
export * from "./SecretCheck.ts"
