// `Decimal` and `Postback` come from the Effect-free entry point of
// @org/postback-schema, so that `render`'s users import from one package.

export type { Postback } from "@org/postback-schema/plain"
export { Decimal } from "@org/postback-schema/plain"
export * from "./Macro.ts"
export * from "./MacroTemplate.ts"
export * from "./Match.ts"
export * from "./Render.ts"
export * from "./Validate.ts"
