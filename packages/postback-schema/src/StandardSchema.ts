// The postback contract as Standard Schema (v1) validators for libraries that
// accept one (Hono's `sValidator`, tRPC, TanStack Form). Built on the plain
// decoder: validating needs nothing from `effect`.
import { decodeJsonBody, decodeQuery, type Issue, isIssues } from "./internal/decode.ts"
import type { Postback } from "./Postback.ts"
import type { PostbackJsonEncoded } from "./PostbackJson.ts"
import { DEFAULT_POSTBACK_OPTIONS } from "./PostbackOptions.ts"
import type { PostbackQueryEncoded } from "./PostbackQuery.ts"

/**
 * The Standard Schema v1 interface (https://standardschema.dev), the part a
 * validator implements: `validate` answers `{ value }` or `{ issues }`, each
 * issue with its `message` and `path`.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1
    readonly vendor: string
    readonly validate: (
      value: unknown
    ) => StandardSchemaV1.Result<Output> | Promise<StandardSchemaV1.Result<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}

/** The types of {@link StandardSchemaV1}. */
export declare namespace StandardSchemaV1 {
  /** The outcome of `validate`. */
  export type Result<Output> =
    | { readonly value: Output; readonly issues?: undefined }
    | { readonly issues: ReadonlyArray<Issue> }
  /** One problem: its message and the path of keys to it. */
  export interface Issue {
    readonly message: string
    readonly path?: ReadonlyArray<PropertyKey> | undefined
  }
}

const VENDOR = "@org/postback-schema"

const standard = <Input>(
  decode: (input: unknown) => Postback | ReadonlyArray<Issue>
): StandardSchemaV1<Input, Postback> => ({
  "~standard": {
    version: 1,
    vendor: VENDOR,
    validate: (value) => {
      const decoded = decode(value)
      return isIssues(decoded)
        ? { issues: decoded.map(({ message, path }) => ({ message, path })) }
        : { value: decoded }
    }
  }
})

/**
 * The POST body contract (`PostbackJson` with the default options) as a
 * Standard Schema (v1): the same messages and paths as `parsePostbackJson`.
 *
 * @example
 * import { sValidator } from "@hono/standard-validator"
 * import { PostbackJsonStandardSchema } from "@org/postback-schema"
 *
 * app.post("/postbacks", sValidator("json", PostbackJsonStandardSchema), (c) => {
 *   const postback = c.req.valid("json")
 *   return c.text("OK")
 * })
 */
export const PostbackJsonStandardSchema: StandardSchemaV1<PostbackJsonEncoded, Postback> = standard(
  (input) => decodeJsonBody(input, DEFAULT_POSTBACK_OPTIONS)
)

/**
 * The GET query contract (`PostbackQuery` with the default options) as a
 * Standard Schema (v1), e.g. for Hono's `sValidator("query", ...)`.
 */
export const PostbackQueryStandardSchema: StandardSchemaV1<PostbackQueryEncoded, Postback> =
  standard((input) => decodeQuery(input as PostbackQueryEncoded, DEFAULT_POSTBACK_OPTIONS))
