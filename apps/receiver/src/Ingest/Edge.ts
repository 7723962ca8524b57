import { hash } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Context, Effect, Layer, Metric, Option } from "effect"
import { ReceiverConfig } from "../Config.ts"
import type { PostbackSource, RawRequest } from "../Db/schema.ts"
import { Secrets, secretCheck } from "../Secrets.ts"
import { IngestBatcher, StoreRefused } from "./Batcher.ts"
import { type Decoded, PostbackDecoder } from "./Decoder.ts"
import type { InboxRow } from "./InboxSql.ts"

const received = Metric.counter("receiver_postbacks_received_total", {
  description:
    "Postback deliveries by outcome (accepted, duplicate, rejected, unauthorized, unavailable, too_large)",
  incremental: true
})
const outcome = (name: string) => Metric.withAttributes(received, { outcome: name })
const counters = {
  accepted: outcome("accepted"),
  duplicate: outcome("duplicate"),
  rejected: outcome("rejected"),
  unauthorized: outcome("unauthorized"),
  unavailable: outcome("unavailable"),
  tooLarge: outcome("too_large"),
  badMethod: outcome("method_not_allowed")
}

/**
 * The ingest route's HTTP edge: a plain `node:http` handler for
 * `GET|POST /postbacks`, mounted in front of the Effect router by the server
 * layer (Http.ts). It is deliberately thin: per request it only checks the
 * secret, reads the body, decodes with `@org/postback-schema` and hands the
 * row to the group-commit batcher; every rule it applies comes from the
 * app's services (config, secrets, decoder, batcher). Running each request
 * through the platform's router, middleware and body stream cost more than
 * half the throughput here, so this route is the one place that skips them.
 */
export interface IngestEdgeShape {
  readonly handle: (request: IncomingMessage, response: ServerResponse) => void
  /** From now on answer 503 (the receiver is shutting down). */
  readonly drain: () => void
}

export class IngestEdge extends Context.Service<IngestEdge, IngestEdgeShape>()(
  "@org/receiver/IngestEdge"
) {
  static readonly layer: Layer.Layer<
    IngestEdge,
    never,
    ReceiverConfig | Secrets | IngestBatcher | PostbackDecoder
  > = Layer.effect(
    IngestEdge,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const secrets = yield* Secrets
      const batcher = yield* IngestBatcher
      const decoder = yield* PostbackDecoder
      // The one place where `node:http` callbacks enter Effect: logs and
      // metrics run with the services this layer was built with.
      const context = yield* Effect.context<never>()
      const runFork = Effect.runForkWith(context)
      const count = (counter: Metric.Metric<number, unknown>) => counter.updateUnsafe(1, context)
      const secretMatches = secretCheck(secrets.postbackSecret)
      const secretParam = config.secretParam
      const maxBody = config.maxBodyBytes
      const userIdKey = config.userIdKey
      const dedupKey = Option.getOrUndefined(config.dedupKey)
      const holdAbove = config.holdPayoutAbove
      let draining = false

      // At most one log line a second per kind, with the count since the last
      // one, so a flood of bad requests or an outage cannot flood the logs.
      const sampled = (level: "warning" | "error") => {
        let count = 0
        let last = 0
        return (message: string, detail: string) => {
          count++
          const now = Date.now()
          if (now - last < 1000) return
          const n = count
          count = 0
          last = now
          const line = `${message} (${n} since the last report)`
          runFork(
            level === "warning" ? Effect.logWarning(line, detail) : Effect.logError(line, detail)
          )
        }
      }
      const logUnauthorized = sampled("warning")
      const logUnavailable = sampled("error")
      const noteUnauthorized = (request: IncomingMessage) => {
        count(counters.unauthorized)
        logUnauthorized(
          "Refused postback requests without the right secret",
          `last from ${request.socket.remoteAddress ?? "unknown"}`
        )
      }

      const authorized = (params: URLSearchParams): boolean => {
        const presented = params.getAll(secretParam)
        if (presented.length !== 1) return false
        return secretMatches(presented[0])
      }

      const toRow = (decoded: Decoded & { ok: true }): InboxRow => {
        const { postback } = decoded
        const userId = postback.payload[userIdKey]?.trim() || null
        const explicit = dedupKey === undefined ? undefined : postback.payload[dedupKey]
        const identity =
          explicit === undefined || explicit === ""
            ? `postback:${decoder.canonicalKey(postback)}`
            : `payload:${dedupKey}=${explicit}`
        return {
          dedupKey: hash("sha256", identity, "base64url"),
          status: postback.payout.compare(holdAbove) > 0 ? "held" : "pending",
          source: decoded.source,
          offerId: postback.offerId,
          advertiserName: postback.advertiserName,
          payout: postback.payout.toString(),
          occurredAt: postback.timestamp.toISOString(),
          isLoyaltyBoost: postback.isLoyaltyBoost,
          payload: JSON.stringify(postback.payload),
          userId,
          deliveryCount: 1
        }
      }

      const rawRequest = (
        request: IncomingMessage,
        params: URLSearchParams,
        body: string | null
      ): RawRequest => {
        const query: Record<string, string | Array<string>> = {}
        for (const [name, value] of params) {
          if (name === secretParam) continue
          const seen = query[name]
          if (seen === undefined) query[name] = value
          else if (Array.isArray(seen)) seen.push(value)
          else query[name] = [seen, value]
        }
        const limit = 8 * 1024
        return {
          method: request.method ?? "",
          path: (request.url ?? "").split("?")[0] ?? "",
          query,
          contentType: request.headers["content-type"] ?? null,
          body: body === null ? null : body.slice(0, limit),
          bodyTruncated: body !== null && body.length > limit,
          remoteAddress: request.socket.remoteAddress ?? null
        }
      }

      const reject = (
        request: IncomingMessage,
        response: ServerResponse,
        params: URLSearchParams,
        body: string | null,
        source: PostbackSource,
        errors: ReadonlyArray<{ readonly path: string; readonly message: string }>
      ) => {
        count(counters.rejected)
        void batcher
          .submitRejected({ source, request: rawRequest(request, params, body), errors })
          .then(() => send(response, 400, decoder.errorBody(errors)))
      }

      const accept = (
        request: IncomingMessage,
        response: ServerResponse,
        params: URLSearchParams,
        body: string | null,
        decoded: Decoded
      ) => {
        if (!decoded.ok)
          return reject(request, response, params, body, decoded.source, decoded.errors)
        batcher.enqueue(
          toRow(decoded),
          (stored) => {
            count(stored.duplicate ? counters.duplicate : counters.accepted)
            sendJson(
              response,
              200,
              `{"status":"accepted","id":${stored.id},"duplicate":${stored.duplicate}}`
            )
          },
          (error) => {
            if (error instanceof StoreRefused) {
              reject(request, response, params, body, decoded.source, [
                { path: "", message: `the database refused the postback: ${error.message}` }
              ])
            } else {
              unavailable(response, error.message)
            }
          }
        )
      }

      const unavailable = (response: ServerResponse, reason: string) => {
        count(counters.unavailable)
        logUnavailable("Postbacks not stored; answered 503 so the sender retries", reason)
        send(
          response,
          503,
          { error: "unavailable", message: "the postback was not stored; retry later" },
          {
            "retry-after": "60"
          }
        )
      }

      const handle = (request: IncomingMessage, response: ServerResponse): void => {
        const url = request.url ?? ""
        const q = url.indexOf("?")
        const params = new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
        const method = request.method
        if (method !== "GET" && method !== "POST") {
          count(counters.badMethod)
          send(
            response,
            405,
            { error: "method_not_allowed", message: "use GET or POST" },
            { allow: "GET, POST" }
          )
          return
        }
        if (!authorized(params)) {
          noteUnauthorized(request)
          request.resume()
          send(response, 401, {
            error: "unauthorized",
            message: `missing or wrong ${secretParam} parameter`
          })
          return
        }
        if (draining) {
          request.resume()
          unavailable(response, "shutting down")
          return
        }
        if (method === "GET") {
          accept(request, response, params, null, decoder.decodeGet(url, params))
          return
        }
        readBody(request, maxBody).then(
          (body) => {
            if (body === undefined) {
              count(counters.tooLarge)
              send(
                response,
                413,
                { error: "payload_too_large", message: `the body exceeds ${maxBody} bytes` },
                {
                  connection: "close"
                }
              )
              return
            }
            accept(
              request,
              response,
              params,
              body,
              decoder.decodePost(request.headers["content-type"], body)
            )
          },
          () => {
            // The client went away mid-body: nothing to answer.
            response.destroy()
          }
        )
      }

      return IngestEdge.of({
        handle,
        drain: () => {
          draining = true
        }
      })
    })
  )
}

/** The body as text, or `undefined` once it exceeds `limit` bytes (then reading stops). */
const readBody = (request: IncomingMessage, limit: number): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"])
    if (declared > limit) {
      request.resume()
      resolve(undefined)
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        request.removeAllListeners("data")
        request.resume()
        resolve(undefined)
      } else {
        chunks.push(chunk)
      }
    })
    request.on("end", () => {
      if (size <= limit)
        resolve(
          chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
        )
    })
    request.on("error", reject)
  })

const send = (
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void => sendJson(response, status, JSON.stringify(body), headers)

const sendJson = (
  response: ServerResponse,
  status: number,
  text: string,
  headers?: Record<string, string>
): void => {
  if (response.headersSent || response.destroyed) return
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers
  })
  response.end(text)
}
