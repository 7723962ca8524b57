import { hash } from "node:crypto"
import { makePostbackIngest, type PostbackIngest } from "@org/postback-handler"
import { type Config, Context, Effect, Layer, Option, Redacted } from "effect"
import { invalidSetting, ReceiverConfig } from "../Config.ts"
import { Secrets } from "../Secrets.ts"
import { INGEST_PATH } from "./Route.ts"

/**
 * The ingest core of `@org/postback-handler`, made once from the settings:
 * every rule about what a delivery is (secret, method, body form, encoding,
 * template, lenient decoding, identity) lives there; the edge only moves
 * bytes in and answers out.
 */
export class IngestCore extends Context.Service<IngestCore, PostbackIngest>()(
  "@org/receiver/IngestCore"
) {
  static readonly layer: Layer.Layer<IngestCore, Config.ConfigError, ReceiverConfig | Secrets> =
    Layer.effect(
      IngestCore,
      Effect.gen(function* () {
        const config = yield* ReceiverConfig
        const secrets = yield* Secrets
        const template = Option.getOrUndefined(config.template)
        const ingest = yield* Effect.try({
          try: () =>
            makePostbackIngest({
              secret: Redacted.value(secrets.postbackSecret),
              secretParam: config.secretParam,
              template,
              dedupKey: Option.getOrUndefined(config.dedupKey),
              maxBodyBytes: config.maxBodyBytes,
              maxQueryBytes: config.maxQueryBytes,
              defaultLoyaltyBoost: config.defaultLoyaltyBoost,
              maxFutureSkewMs: config.maxFutureSkewMs,
              // Node's own SHA-256 on the text: the same digests, without
              // UTF-8 encoding or base64url in JavaScript.
              sha256Text: (text) => hash("sha256", text, "base64url")
            }),
          catch: (error) => {
            const message = error instanceof Error ? error.message : String(error)
            return invalidSetting(
              /template/i.test(message) ? "POSTBACK_TEMPLATE" : "POSTBACK_SECRET",
              /template/i.test(message) ? `POSTBACK_TEMPLATE: ${message}` : message
            )
          }
        })
        if (ingest.template !== undefined) {
          // Only /postbacks reaches the edge: a template elsewhere could never match.
          const path = new URL(ingest.template.source.replace(/[{}]/g, "")).pathname.replace(
            /\/$/,
            ""
          )
          if (path !== INGEST_PATH) {
            return yield* Effect.fail(
              invalidSetting(
                "POSTBACK_TEMPLATE",
                `POSTBACK_TEMPLATE: the template's path must be ${INGEST_PATH} (the receiver's ingest route), got ${JSON.stringify(template)}`
              )
            )
          }
          if (ingest.templateDefaults.length > 0) {
            const noTimestamp =
              ingest.templateDefaults.some((d) => d.field === "timestamp") &&
              ingest.dedupKey === undefined
            yield* Effect.logWarning(
              `POSTBACK_TEMPLATE carries no ${ingest.templateDefaults.map((d) => `{${d.field}}`).join(", ")}: ${ingest.templateDefaults.map((d) => `${d.field} will be ${d.standIn}`).join("; ")} (flagged on each postback)${noTimestamp ? ". Without {timestamp}, a second conversion with the same fields cannot be told from a retry of the first and is credited once: add {timestamp} to the template, or a click id with POSTBACK_DEDUP_KEY" : ""}`
            )
          }
        }
        return ingest
      })
    )
}
