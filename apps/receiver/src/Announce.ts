import { Console, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { NetAddress } from "effect/net"
import { ReceiverConfig } from "./Config.ts"
import { INGEST_PATH } from "./Ingest/Route.ts"
import { Secrets } from "./Secrets.ts"

/** The GET URL with every MomentScience macro, for senders that cannot POST. */
export const macroQuery = (userIdKey: string): string =>
  [
    "offer_id={offer_id}",
    "advertiser_name={advertiser_name}",
    "payout={payout}",
    "timestamp={timestamp}",
    "is_loyaltyboost={is_loyaltyboost}",
    `${userIdKey}={${userIdKey}}`
  ].join("&")

/**
 * Tells the operator what to paste into the MomentScience dashboard. The
 * secret itself is printed only on the start that generated it (to the
 * terminal, not through the logger); afterwards it is read from the file.
 */
export const AnnounceLive: Layer.Layer<
  never,
  never,
  ReceiverConfig | Secrets | HttpServer.HttpServer
> = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* ReceiverConfig
    const secrets = yield* Secrets
    const server = yield* HttpServer.HttpServer
    const port = NetAddress.isInetAddress(server.address) ? server.address.port : config.port
    const base = Option.match(config.publicUrl, {
      onNone: () => `http://localhost:${port}`,
      onSome: (url) => url.toString().replace(/\/+$/, "")
    })
    const shown = secrets.generated.postbackSecret
      ? Redacted.value(secrets.postbackSecret)
      : `<${config.secretParam} from POSTBACK_SECRET or ${secrets.file}>`
    const url = `${base}${INGEST_PATH}?${config.secretParam}=${shown}`
    // With a registered template, the GET URL to paste is that template (with
    // the secret), so that what the dashboard sends is what the edge reads.
    const getUrl = Option.match(config.template, {
      onNone: () => `${url}&${macroQuery(config.userIdKey)}`,
      onSome: (template) => {
        // The secret goes first in the query; the template's text is kept as it is.
        const hash = template.indexOf("#")
        const head = hash === -1 ? template : template.slice(0, hash)
        const tail = hash === -1 ? "" : template.slice(hash)
        const question = head.indexOf("?")
        const secret = `${config.secretParam}=${shown}`
        return question === -1
          ? `${head}?${secret}${tail}`
          : `${head.slice(0, question + 1)}${secret}&${head.slice(question + 1)}${tail}`
      }
    })
    const lines = [
      "",
      "Postback URL for the MomentScience dashboard:",
      `  POST (recommended): ${url}`,
      `  GET with macros:    ${getUrl}`
    ]
    if (secrets.generated.postbackSecret) {
      lines.push(
        `  (a new secret was generated and kept in ${secrets.file}; set POSTBACK_SECRET to choose your own)`
      )
    }
    if (secrets.generated.adminToken) {
      lines.push(
        "",
        `Admin API token (Authorization: Bearer ...): ${Redacted.value(secrets.adminToken)}`,
        `  (kept in ${secrets.file}; set ADMIN_TOKEN to choose your own)`
      )
    }
    if (
      Option.isSome(config.databaseUrl) &&
      (secrets.generated.postbackSecret || secrets.generated.adminToken)
    ) {
      lines.push(
        "",
        "Running several replicas? Set POSTBACK_SECRET and ADMIN_TOKEN explicitly so that they all share them."
      )
    }
    yield* Console.log(lines.join("\n"))
  })
)
