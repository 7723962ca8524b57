import { type MacroTemplate, match, parseTemplate } from "@org/postback-macros"
import {
  canonicalPostbackKey,
  makePostbackParser,
  type Postback,
  type PostbackIssue,
  postbackErrorJson
} from "@org/postback-schema"
import { type Config, Context, Effect, Layer, Option } from "effect"
import { invalidSetting, ReceiverConfig } from "../Config.ts"
import type { PostbackSource } from "../Db/schema.ts"
import { INGEST_PATH } from "./Route.ts"

export type Decoded =
  | { readonly ok: true; readonly postback: Postback; readonly source: PostbackSource }
  | {
      readonly ok: false
      readonly errors: ReadonlyArray<PostbackIssue>
      readonly source: PostbackSource
    }

// PostgreSQL text cannot hold NUL, and jsonb refuses unpaired surrogates:
// refuse them here with a clear message instead of failing the write.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be found
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const storable = (postback: Postback): ReadonlyArray<PostbackIssue> => {
  const problems: Array<PostbackIssue> = []
  const check = (path: string, value: string) => {
    if (UNSTORABLE.test(value)) {
      problems.push({ path, message: "contains a NUL character or an unpaired surrogate" })
    }
  }
  check("offer_id", postback.offerId)
  check("advertiser_name", postback.advertiserName)
  for (const [key, value] of Object.entries(postback.payload)) {
    check(`payload.${key}`, key)
    check(`payload.${key}`, value)
  }
  return problems
}

const finish = (
  result: { ok: true; postback: Postback } | { ok: false; errors: ReadonlyArray<PostbackIssue> },
  source: PostbackSource
): Decoded => {
  if (!result.ok) return { ok: false, errors: result.errors, source }
  const problems = storable(result.postback)
  return problems.length === 0
    ? { ok: true, postback: result.postback, source }
    : { ok: false, errors: problems, source }
}

/**
 * Turns an ingest request into a `Postback` with `@org/postback-schema`
 * (and `@org/postback-macros` when a GET template is registered). No
 * decoding rule lives here; this only picks the wire form.
 */
export class PostbackDecoder extends Context.Service<
  PostbackDecoder,
  {
    readonly decodeGet: (url: string, params: URLSearchParams) => Decoded
    readonly decodePost: (contentType: string | undefined, body: string) => Decoded
    /** Identical for every delivery of the same postback, whatever its wire form. */
    readonly canonicalKey: (postback: Postback) => string
    /** The HTTP 400 body listing every problem. */
    readonly errorBody: (errors: ReadonlyArray<PostbackIssue>) => unknown
  }
>()("@org/receiver/PostbackDecoder") {
  static readonly layer: Layer.Layer<PostbackDecoder, Config.ConfigError, ReceiverConfig> =
    Layer.effect(
      PostbackDecoder,
      Effect.gen(function* () {
        const config = yield* ReceiverConfig
        // The parser is built once: options checked, schemas compiled.
        const parser = makePostbackParser({
          exclude: [config.secretParam],
          maxBodyBytes: config.maxBodyBytes
        })
        const template: MacroTemplate | undefined = yield* Option.match(config.template, {
          onNone: () => Effect.succeed(undefined),
          onSome: (text) =>
            Effect.try({
              try: () => parseTemplate(text),
              catch: (error) =>
                invalidSetting(
                  "POSTBACK_TEMPLATE",
                  `POSTBACK_TEMPLATE: ${error instanceof Error ? error.message : String(error)}`
                )
            }).pipe(
              Effect.filterOrFail(
                // Only /postbacks reaches the decoder: a template elsewhere could never match.
                (parsed) =>
                  new URL(parsed.source.replace(/[{}]/g, "")).pathname.replace(/\/$/, "") ===
                  INGEST_PATH,
                () =>
                  invalidSetting(
                    "POSTBACK_TEMPLATE",
                    `POSTBACK_TEMPLATE: the template's path must be ${INGEST_PATH} (the receiver's ingest route), got ${JSON.stringify(text)}`
                  )
              )
            )
        })
        const decodeGet = (url: string, params: URLSearchParams): Decoded => {
          if (template === undefined) return finish(parser.parseQuery(params), "get")
          // Parameters the template does not mention (the secret among them) are ignored.
          const matched = match(template, url)
          if (!matched.ok) {
            return {
              ok: false,
              errors: matched.errors.map((e) => ({
                path: e.parameter ?? e.macro ?? "",
                message: e.message
              })),
              source: "get-template"
            }
          }
          return finish(parser.parseJson(matched.fields), "get-template")
        }

        const decodePost = (contentType: string | undefined, body: string): Decoded => {
          const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase()
          if (type === "application/x-www-form-urlencoded") {
            return finish(parser.parseQuery(new URLSearchParams(body)), "post-form")
          }
          let json: unknown
          try {
            json = JSON.parse(body)
          } catch (error) {
            return {
              ok: false,
              errors: [
                {
                  path: "",
                  message: `the body is not valid JSON (${error instanceof Error ? error.message : "parse error"})`
                }
              ],
              source: "post-json"
            }
          }
          return finish(parser.parseJson(json), "post-json")
        }

        return PostbackDecoder.of({
          decodeGet,
          decodePost,
          canonicalKey: canonicalPostbackKey,
          errorBody: (errors) => postbackErrorJson(errors)
        })
      })
    )
}
