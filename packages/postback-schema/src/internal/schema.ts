// The Effect Schemas of both wire forms, around the plain decoder
// (./decode.ts) and printers (./wire.ts): the decoder's issues become
// `SchemaIssue`s, each at its field's path.
import { Effect, Schema, SchemaGetter } from "effect"
import type { PostbackJsonEncoded } from "../PostbackJson.ts"
import type { ResolvedPostbackOptions } from "../PostbackOptions.ts"
import type { PostbackQueryEncoded } from "../PostbackQuery.ts"
import { Postback } from "../PostbackSchema.ts"
import { decodeJsonBody, decodeQuery, type Issue, isIssues } from "./decode.ts"
import { toSchemaIssue } from "./issue.ts"
import { postbackProblems } from "./validate.ts"
import { postbackToQuery, postbackToWire } from "./wire.ts"

// The encoded sides accept any value here: the decoder checks the input
// itself, so that all problems are reported at once, in its own words.
const anyValue = <A>(annotations: Schema.Annotations.Declaration<A>) =>
  Schema.declare((_: unknown): _ is A => true, annotations)

const JsonBody = anyValue<PostbackJsonEncoded>({
  title: "MomentScience postback",
  description: "The JSON body of a MomentScience POST postback"
})

const QueryInput = anyValue<PostbackQueryEncoded>({
  description: "The query parameters of a MomentScience GET postback"
})

const failWith = (input: unknown, issues: ReadonlyArray<Issue>) =>
  Effect.fail(toSchemaIssue(Postback.ast, input, issues))

/** What the encoders check before printing: a valid postback. */
const encodable = (postback: Postback) => {
  const problems = postbackProblems(postback)
  return problems.length === 0 ? Effect.succeed(postback) : failWith(postback, problems)
}

/** The POST body codec for options `o` (see `makePostbackJson`). */
export const makeJsonCodec = (
  o: ResolvedPostbackOptions
): Schema.Codec<Postback, PostbackJsonEncoded> =>
  JsonBody.pipe(
    Schema.decodeTo(Postback, {
      decode: SchemaGetter.transformEffect((input: unknown) => {
        const decoded = decodeJsonBody(input, o)
        return isIssues(decoded) ? failWith(input, decoded) : Effect.succeed(decoded)
      }),
      encode: SchemaGetter.transformEffect((postback: Postback) =>
        Effect.map(encodable(postback), postbackToWire)
      )
    })
  )

/** The GET query codec for options `o` (see `makePostbackQuery`). */
export const makeQueryCodec = (
  o: ResolvedPostbackOptions
): Schema.Codec<Postback, PostbackQueryEncoded> =>
  QueryInput.pipe(
    Schema.decodeTo(Postback, {
      decode: SchemaGetter.transformEffect((input: unknown) => {
        const decoded = decodeQuery(input as PostbackQueryEncoded, o)
        return isIssues(decoded) ? failWith(input, decoded) : Effect.succeed(decoded)
      }),
      encode: SchemaGetter.transformEffect((postback: Postback) =>
        Effect.flatMap(encodable(postback), (valid) => {
          const query = postbackToQuery(valid, o)
          return Array.isArray(query) ? failWith(valid, query) : Effect.succeed(query)
        })
      )
    })
  )
