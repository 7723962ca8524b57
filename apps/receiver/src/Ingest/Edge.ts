import type { IncomingMessage, ServerResponse } from "node:http"
import {
  type Answer,
  answerOf,
  type Classification,
  errorAnswer,
  unavailableAnswer
} from "@org/postback-handler"
import { Context, Effect, Layer, Metric } from "effect"
import { ReceiverConfig } from "../Config.ts"
import type { RawRequest } from "../Db/schema.ts"
import { IngestBatcher, StoreRefused } from "./Batcher.ts"
import type { InboxRow } from "./InboxSql.ts"
import { IngestCore } from "./Ingest.ts"

const received = Metric.counter("receiver_postbacks_received_total", {
  description:
    "Postback deliveries by outcome (accepted, held, duplicate, rejected, unauthorized, unavailable, too_large, unsupported, method_not_allowed, probe)",
  incremental: true
})
const outcome = (name: string) => Metric.withAttributes(received, { outcome: name })
const counters = {
  accepted: outcome("accepted"),
  held: outcome("held"),
  duplicate: outcome("duplicate"),
  rejected: outcome("rejected"),
  unauthorized: outcome("unauthorized"),
  unavailable: outcome("unavailable"),
  tooLarge: outcome("too_large"),
  unsupported: outcome("unsupported"),
  badMethod: outcome("method_not_allowed"),
  probe: outcome("probe")
}
const refusals = {
  Unauthorized: counters.unauthorized,
  MethodNotAllowed: counters.badMethod,
  TooLarge: counters.tooLarge,
  Unsupported: counters.unsupported,
  Probe: counters.probe
} as const

/**
 * The ingest route's HTTP edge: a plain `node:http` handler for
 * `/postbacks`, mounted in front of the Effect router by the server layer
 * (Http.ts). It only moves bytes: it reads the body (up to the limit),
 * hands the delivery to the ingest core of `@org/postback-handler` (which
 * decides everything: secret, method, body form, encoding, template,
 * decoding, identity), turns an accepted postback into an inbox row for the
 * group-commit batcher, and answers. Running each request through the
 * platform's router, middleware and body stream cost more than half the
 * throughput here, so this route is the one place that skips them.
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
    ReceiverConfig | IngestBatcher | IngestCore
  > = Layer.effect(
    IngestEdge,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const batcher = yield* IngestBatcher
      const ingest = yield* IngestCore
      // The one place where `node:http` callbacks enter Effect: logs and
      // metrics run with the services this layer was built with.
      const context = yield* Effect.context<never>()
      const runFork = Effect.runForkWith(context)
      const count = (counter: Metric.Metric<number, unknown>) => counter.updateUnsafe(1, context)
      const userIdKey = config.userIdKey
      const holdAbove = config.holdPayoutAbove
      const maxBody = ingest.maxBodyBytes
      let draining = false

      // At most one log line a second per kind, with the count since the last
      // one, so a flood of bad requests or an outage cannot flood the logs.
      const sampled = (level: "warning" | "error") => {
        let n = 0
        let last = 0
        return (message: string, detail: string) => {
          n++
          const now = Date.now()
          if (now - last < 1000) return
          const since = n
          n = 0
          last = now
          const line = `${message} (${since} since the last report)`
          runFork(
            level === "warning" ? Effect.logWarning(line, detail) : Effect.logError(line, detail)
          )
        }
      }
      const logUnauthorized = sampled("warning")
      const logUnavailable = sampled("error")

      const unavailable = (response: ServerResponse, reason: string) => {
        count(counters.unavailable)
        logUnavailable("Postbacks not stored; answered 503 so the sender retries", reason)
        reply(response, unavailableAnswer())
      }

      const rawOf = (
        request: IncomingMessage,
        raw: Extract<Classification, { _tag: "Rejected" }>["raw"]
      ): RawRequest => ({ ...raw, remoteAddress: request.socket.remoteAddress ?? null })

      const toRow = (accepted: Extract<Classification, { _tag: "Accepted" }>): InboxRow => {
        const { postback } = accepted
        const holds = [...accepted.holds]
        if (postback.payout.compare(holdAbove) > 0) {
          holds.push({
            path: "payout",
            message: `is above PAYOUT_HOLD_ABOVE (${holdAbove.toString()} USD): a person approves it first`
          })
        }
        return {
          dedupKey: accepted.identity,
          status: holds.length > 0 ? "held" : "pending",
          source: accepted.source,
          offerId: postback.offerId,
          advertiserName: postback.advertiserName,
          payout: postback.payout.toString(),
          occurredAt: postback.timestamp.toISOString(),
          isLoyaltyBoost: postback.isLoyaltyBoost,
          payload: JSON.stringify(postback.payload),
          userId: postback.payload[userIdKey]?.trim() || null,
          deliveryCount: 1,
          flags: accepted.flags.length === 0 ? null : JSON.stringify(accepted.flags),
          problems: holds.length === 0 ? null : JSON.stringify(holds)
        }
      }

      const reject = (
        request: IncomingMessage,
        response: ServerResponse,
        rejected: Extract<Classification, { _tag: "Rejected" }>
      ) => {
        count(counters.rejected)
        void batcher
          .submitRejected({
            source: rejected.source,
            request: rawOf(request, rejected.raw),
            errors: rejected.issues
          })
          .then(() => reply(response, answerOf(rejected)))
      }

      const settle = (
        request: IncomingMessage,
        response: ServerResponse,
        classified: Classification
      ): void => {
        switch (classified._tag) {
          case "Accepted": {
            const row = toRow(classified)
            batcher.enqueue(
              row,
              (stored) => {
                count(
                  stored.duplicate
                    ? counters.duplicate
                    : row.status === "held"
                      ? counters.held
                      : counters.accepted
                )
                sendJson(
                  response,
                  200,
                  `{"status":"${row.status === "held" ? "held" : "accepted"}","id":${stored.id},"duplicate":${stored.duplicate}}`
                )
              },
              (error) => {
                if (error instanceof StoreRefused) {
                  reject(request, response, {
                    _tag: "Rejected",
                    status: 400,
                    source: classified.source,
                    issues: [
                      { path: "", message: `the database refused the postback: ${error.message}` }
                    ],
                    raw: classified.raw
                  })
                } else {
                  unavailable(response, error.message)
                }
              }
            )
            return
          }
          case "Rejected":
            reject(request, response, classified)
            return
          case "Unauthorized":
            logUnauthorized(
              "Refused postback requests without the right secret",
              `last from ${request.socket.remoteAddress ?? "unknown"}`
            )
            break
        }
        count(refusals[classified._tag])
        reply(response, answerOf(classified))
      }

      const handle = (request: IncomingMessage, response: ServerResponse): void => {
        const receivedAt = new Date()
        const method = request.method ?? ""
        const url = request.url ?? "/"
        const admitted = ingest.admit({ method, url })
        if (admitted !== undefined) {
          request.resume()
          settle(request, response, admitted)
          return
        }
        if (draining) {
          request.resume()
          unavailable(response, "shutting down")
          return
        }
        if (method.toUpperCase() === "GET") {
          settle(request, response, ingest.classify({ method, url, receivedAt }))
          return
        }
        readBody(request, maxBody).then(
          (body) => {
            if (body === undefined) {
              count(counters.tooLarge)
              reply(
                response,
                errorAnswer(413, `the request body has more than ${maxBody} bytes, the limit`, {
                  connection: "close"
                })
              )
              return
            }
            const contentEncoding = request.headers["content-encoding"]
            const delivery = {
              method,
              url,
              contentType: request.headers["content-type"] ?? null,
              body,
              receivedAt
            }
            if (contentEncoding === undefined) settle(request, response, ingest.classify(delivery))
            else {
              void ingest
                .classifyEncoded({ ...delivery, contentEncoding })
                .then((classified) => settle(request, response, classified))
            }
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

/** The body's bytes, or `undefined` once they exceed `limit` (then reading stops). */
const readBody = (request: IncomingMessage, limit: number): Promise<Uint8Array | undefined> =>
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
      if (size <= limit) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    })
    request.on("error", reject)
  })

/** Writes an answer of the ingest core. */
const reply = (response: ServerResponse, answer: Answer): void => {
  if (response.headersSent || response.destroyed) return
  response.writeHead(answer.status, {
    ...answer.headers,
    "content-length": Buffer.byteLength(answer.body)
  })
  response.end(answer.body)
}

const sendJson = (response: ServerResponse, status: number, text: string): void => {
  if (response.headersSent || response.destroyed) return
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store"
  })
  response.end(text)
}
