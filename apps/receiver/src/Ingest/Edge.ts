import type { IncomingMessage, ServerResponse } from "node:http"
import {
  type Answer,
  answerOf,
  type Classification,
  errorAnswer,
  type PostbackSource,
  unavailableAnswer
} from "@org/postback-handler"
import { type Decimal, timestampText } from "@org/postback-schema"
import { Context, Effect, Layer, LogLevel, Metric, References } from "effect"
import { ReceiverConfig } from "../Config.ts"
import type { RawRequest } from "../Db/schema.ts"
import { LineLogger } from "../Logging.ts"
import { Spool } from "../Spool/Spool.ts"
import { GroupCommit, QueueFull, StoreRefused } from "./GroupCommit.ts"
import { type InboxRow, storableJson } from "./InboxSql.ts"
import { IngestCore } from "./Ingest.ts"

const received = Metric.counter("receiver_postbacks_received_total", {
  description:
    "Postback deliveries by outcome (accepted, held, duplicate, spooled, rejected, unauthorized, unavailable, too_large, unsupported, method_not_allowed, probe)",
  incremental: true
})
const outcome = (name: string) => Metric.withAttributes(received, { outcome: name })
const counters = {
  accepted: outcome("accepted"),
  held: outcome("held"),
  duplicate: outcome("duplicate"),
  spooled: outcome("spooled"),
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

const rejectedUnstored = Metric.counter("receiver_rejected_unstored_total", {
  description:
    "Rejected requests (answered 400) whose raw request the database refused to store, even alone",
  incremental: true
})

// The ledger indexes the user id (accounts, reward_transactions), and
// PostgreSQL cannot index a value of more than about 2,700 bytes: a longer
// id would fail every crediting attempt, so it is held for a person at once.
const MAX_USER_ID_BYTES = 2_000

/**
 * The header that marks a delivery as a test postback (`x-postback-test: 1`),
 * as the console's test button sends it through the real ingest path. It is
 * honoured only on a delivery that carries the valid secret (only those are
 * stored); the row is stored with `test = true`, never credited, and its
 * dedup key is the identity prefixed with `test:`, so a test never folds
 * into (or swallows) a real conversion with the same fields.
 */
export const TEST_POSTBACK_HEADER = "x-postback-test"

/** When a request arrived, and whether it is a test postback. */
interface Arrival {
  /** The receiver's wall clock at arrival. */
  readonly receivedAt: Date
  /** `performance.now()` at arrival (the delivery log's wait is measured on it). */
  readonly arrivedAt: number
  readonly test: boolean
}

const isTestDelivery = (request: IncomingMessage): boolean => {
  const value = request.headers[TEST_POSTBACK_HEADER]
  return value === "1" || value === "true"
}

/**
 * The query parameter that marks a test postback where no header can be
 * set (MomentScience's "Test endpoint" sends to the registered URL as it
 * is): `_test=1` in the postback URL. Reserved: MomentScience's macros and
 * payload keys (letters, digits, underscores, and never a leading one in
 * its guidance) do not produce it, and it is removed from the URL before
 * the ingest core reads it, so it is never a payload entry nor part of the
 * identity. Like the header, it counts only with the valid secret.
 */
export const TEST_POSTBACK_PARAM = "_test"

const TEST_MARK = /(?:^|&)_test=(?:1|true)(?:&|$)/

/** The request target without its test marker, or `undefined` when it carries none. */
const withoutTestMarker = (url: string): string | undefined => {
  const question = url.indexOf("?")
  if (question === -1 || !TEST_MARK.test(url.slice(question + 1))) return undefined
  const rest = url
    .slice(question + 1)
    .split("&")
    .filter((part) => part !== "_test=1" && part !== "_test=true")
    .join("&")
  return rest === "" ? url.slice(0, question) : `${url.slice(0, question)}?${rest}`
}

type Rejected = Extract<Classification, { _tag: "Rejected" }>
type Accepted = Extract<Classification, { _tag: "Accepted" }>

/** What the delivery log line says about one delivery (never the secret or a raw body). */
interface DeliveryLine {
  readonly outcome: string
  readonly status: number
  readonly postbackId?: number | undefined
  readonly source?: PostbackSource | undefined
  readonly offerId?: string | undefined
  readonly payout?: string | undefined
  readonly userId?: string | null | undefined
}

/**
 * The ingest route's HTTP edge: a plain `node:http` handler for
 * `/postbacks`, mounted in front of the Effect router by the server layer
 * (Http.ts). It only moves bytes: it reads the body (up to the limit),
 * hands the delivery to the ingest core of `@org/postback-handler` (which
 * decides everything: secret, method, body form, encoding, template,
 * decoding, identity), turns an accepted postback into an inbox row (and a
 * refused one into a rejected row) for the group commit, and answers.
 * Running each request through the platform's router, middleware and body
 * stream cost more than half the throughput here, so this route is the one
 * place that skips them.
 *
 * Every delivery that carries the secret gets one log line at Info (its
 * postback id, outcome, status, source, offer id, payout, user id and
 * latency); refused secrets (401) and 503s get sampled lines instead, so a
 * flood or an outage cannot flood the logs.
 */
export interface IngestEdgeShape {
  readonly handle: (request: IncomingMessage, response: ServerResponse) => void
  /** From now on answer 503 (the receiver is shutting down). */
  readonly drain: () => void
}

/** What the edge is built from. */
type IngestEdgeServiceDependencies = ReceiverConfig | GroupCommit | IngestCore | Spool

export class IngestEdge extends Context.Service<IngestEdge, IngestEdgeShape>()(
  "@org/receiver/IngestEdge"
) {
  static readonly layer: Layer.Layer<IngestEdge, never, IngestEdgeServiceDependencies> =
    Layer.effect(
      IngestEdge,
      Effect.gen(function* () {
        const config = yield* ReceiverConfig
        const groupCommit = yield* GroupCommit
        const spool = yield* Spool
        const ingest = yield* IngestCore
        // The one place where `node:http` callbacks enter Effect: logs and
        // metrics run with the services this layer was built with.
        const context = yield* Effect.context<never>()
        const runFork = Effect.runForkWith(context)
        const count = (counter: Metric.Metric<number, unknown>) => counter.updateUnsafe(1, context)
        const userIdKey = config.userIdKey
        const holdAbove = config.holdPayoutAbove
        const maxBody = ingest.maxBodyBytes
        const lineLogger = Context.get(context, LineLogger)
        // Checked once: below Info, the hot path does not even build the line.
        const logDeliveries = LogLevel.isGreaterThanOrEqualTo(
          "Info",
          Context.get(context, References.MinimumLogLevel)
        )
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

        const logDelivery = (receivedAt: Date, delivery: DeliveryLine) => {
          if (!logDeliveries) return
          const annotations: Record<string, unknown> = {
            postbackId: delivery.postbackId ?? null,
            outcome: delivery.outcome,
            status: delivery.status
          }
          if (delivery.source !== undefined) annotations.source = delivery.source
          if (delivery.offerId !== undefined) annotations.offerId = delivery.offerId
          if (delivery.payout !== undefined) annotations.payout = delivery.payout
          if (delivery.userId !== undefined) annotations.userId = delivery.userId
          annotations.latencyMs = Date.now() - receivedAt.getTime()
          if (lineLogger !== undefined) {
            lineLogger.info("Postback delivery", annotations)
            return
          }
          pendingLines.push(annotations)
          if (pendingLines.length === 1) setImmediate(writePendingLines)
        }
        // Without a line logger (a terminal's pretty output, a test's own
        // logger), the lines of one turn of the event loop (a batch's answers
        // are sent together) are logged by one fiber, in order.
        let pendingLines: Array<Record<string, unknown>> = []
        const logLine = (annotations: Record<string, unknown>) =>
          Effect.logInfo("Postback delivery").pipe(Effect.annotateLogs(annotations))
        const writePendingLines = () => {
          const lines = pendingLines
          pendingLines = []
          runFork(Effect.forEach(lines, logLine, { discard: true }))
        }

        const unavailable = (response: ServerResponse, error: Error | string) => {
          count(counters.unavailable)
          const reason = typeof error === "string" ? error : error.message
          logUnavailable("Postbacks not stored; answered 503 so the sender retries", reason)
          reply(
            response,
            error instanceof QueueFull
              ? unavailableAnswer(
                  "too many postbacks are waiting for the database; the postback was not stored, retry later"
                )
              : unavailableAnswer()
          )
        }

        const rawOf = (request: IncomingMessage, raw: Rejected["raw"]): RawRequest => ({
          ...raw,
          remoteAddress: request.socket.remoteAddress ?? null
        })

        const toRow = (accepted: Accepted, arrival: Arrival): InboxRow =>
          inboxRowOf(accepted, { userIdKey, holdAbove }, arrival)

        /**
         * Keeps a request that is not a conversion and answers 400 with the
         * stored row's id; 503 when it cannot be kept now (the sender's retry
         * will be kept). A row the database refuses even alone is counted
         * and logged, and answered 400 without an id.
         */
        const reject = (
          request: IncomingMessage,
          response: ServerResponse,
          arrival: Arrival,
          rejected: Rejected,
          postback?: InboxRow
        ) => {
          const { receivedAt } = arrival
          const delivery = {
            outcome: "rejected",
            status: 400,
            source: rejected.source,
            offerId: postback?.offerId,
            payout: postback?.payout,
            userId: postback?.userId
          }
          groupCommit.enqueueRejected(
            {
              source: rejected.source,
              request: rawOf(request, rejected.raw),
              errors: rejected.issues,
              httpStatus: answerOf(rejected).status,
              receivedAt,
              arrivedAt: arrival.arrivedAt,
              test: arrival.test
            },
            (id) => {
              count(counters.rejected)
              reply(response, rejectedAnswer(rejected, id))
              logDelivery(receivedAt, { ...delivery, postbackId: id })
            },
            (error) => {
              if (!(error instanceof StoreRefused)) {
                unavailable(response, error)
                return
              }
              count(counters.rejected)
              count(rejectedUnstored)
              runFork(
                Effect.logError(
                  `A rejected ${rejected.source} request could not be kept: the database refused it (${error.message}); answered 400 without an id`
                )
              )
              reply(response, rejectedAnswer(rejected, undefined))
              logDelivery(receivedAt, delivery)
            }
          )
        }

        const settle = (
          request: IncomingMessage,
          response: ServerResponse,
          arrival: Arrival,
          classified: Classification
        ): void => {
          const { receivedAt } = arrival
          switch (classified._tag) {
            case "Accepted": {
              const row = toRow(classified, arrival)
              spool.enqueue(
                row,
                () => rawOf(request, classified.raw),
                (stored) => {
                  if ("spooled" in stored) {
                    // Durable in the spool's journal; stored in the database on replay.
                    count(stored.duplicate ? counters.duplicate : counters.spooled)
                    sendJson(
                      response,
                      200,
                      `{"status":"spooled","id":null,"duplicate":${stored.duplicate}}`
                    )
                    logDelivery(receivedAt, {
                      outcome: stored.duplicate ? "duplicate" : "spooled",
                      status: 200,
                      source: row.source,
                      offerId: row.offerId,
                      payout: row.payout,
                      userId: row.userId
                    })
                    return
                  }
                  const outcome = stored.duplicate
                    ? "duplicate"
                    : row.status === "held"
                      ? "held"
                      : "accepted"
                  count(counters[outcome])
                  sendJson(
                    response,
                    200,
                    `{"status":"${row.status === "held" ? "held" : "accepted"}","id":${stored.id},"duplicate":${stored.duplicate}}`
                  )
                  logDelivery(receivedAt, {
                    outcome,
                    status: 200,
                    postbackId: stored.id,
                    source: row.source,
                    offerId: row.offerId,
                    payout: row.payout,
                    userId: row.userId
                  })
                },
                (error) => {
                  if (!(error instanceof StoreRefused)) {
                    unavailable(response, error)
                    return
                  }
                  // The database refused the postback's data: retrying cannot
                  // help, so it is kept as a rejected request, with the reason.
                  reject(
                    request,
                    response,
                    arrival,
                    {
                      _tag: "Rejected",
                      status: 400,
                      source: classified.source,
                      issues: [
                        {
                          path: "",
                          message: `the database refused the postback: ${error.message}`
                        }
                      ],
                      raw: classified.raw
                    },
                    row
                  )
                }
              )
              return
            }
            case "Rejected":
              reject(request, response, arrival, classified)
              return
            case "Unauthorized":
              logUnauthorized(
                "Refused postback requests without the right secret",
                `last from ${request.socket.remoteAddress ?? "unknown"}`
              )
              break
            case "TooLarge":
            case "Unsupported":
            case "Probe":
              // A 414 is answered before the secret is checked: no delivery line.
              if (classified.status !== 414) {
                logDelivery(receivedAt, {
                  outcome:
                    classified._tag === "Probe"
                      ? "probe"
                      : classified._tag === "TooLarge"
                        ? "too_large"
                        : "unsupported",
                  status: classified.status
                })
              }
              break
          }
          count(refusals[classified._tag])
          reply(response, answerOf(classified))
        }

        const handle = (request: IncomingMessage, response: ServerResponse): void => {
          const receivedAt = new Date()
          const target = request.url ?? "/"
          const unmarked = withoutTestMarker(target)
          const arrival: Arrival = {
            receivedAt,
            arrivedAt: performance.now(),
            test: unmarked !== undefined || isTestDelivery(request)
          }
          const method = request.method ?? ""
          const url = unmarked ?? target
          const admitted = ingest.admitRequest({ method, url })
          if (admitted._tag !== "Admitted") {
            request.resume()
            settle(request, response, arrival, admitted)
            return
          }
          if (draining) {
            request.resume()
            unavailable(response, "shutting down")
            return
          }
          if (method.toUpperCase() === "GET") {
            settle(
              request,
              response,
              arrival,
              ingest.classify({ method, url, receivedAt, admitted })
            )
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
                logDelivery(receivedAt, { outcome: "too_large", status: 413 })
                return
              }
              const contentEncoding = request.headers["content-encoding"]
              const delivery = {
                method,
                url,
                contentType: request.headers["content-type"] ?? null,
                body,
                receivedAt,
                admitted
              }
              if (contentEncoding === undefined)
                settle(request, response, arrival, ingest.classify(delivery))
              else {
                void ingest
                  .classifyEncoded({ ...delivery, contentEncoding })
                  .then((classified) => settle(request, response, arrival, classified))
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

/**
 * The inbox row of an accepted postback (every value in its wire text),
 * with the receiver's own holds added to the core's: a payout above
 * `PAYOUT_HOLD_ABOVE`, a user id longer than the ledger can index. Used by
 * the edge, and by an operator's repair of a rejected postback (which
 * stores the corrected request like a fresh delivery).
 */
export const inboxRowOf = (
  accepted: Accepted,
  settings: { readonly userIdKey: string; readonly holdAbove: Decimal },
  arrival: Pick<Arrival, "receivedAt" | "test"> & { readonly arrivedAt?: number | undefined }
): InboxRow => {
  const { userIdKey, holdAbove } = settings
  const { postback } = accepted
  const holds = [...accepted.holds]
  if (postback.payout.compare(holdAbove) > 0) {
    holds.push({
      path: "payout",
      message: `is above PAYOUT_HOLD_ABOVE (${holdAbove.toString()} USD): a person approves it first`
    })
  }
  const userId = postback.payload[userIdKey]?.trim() || null
  // A UTF-16 unit is at most 3 bytes of UTF-8: only a long id is measured.
  if (userId !== null && userId.length * 3 > MAX_USER_ID_BYTES) {
    const bytes = Buffer.byteLength(userId)
    if (bytes > MAX_USER_ID_BYTES) {
      holds.push({
        path: `payload.${userIdKey}`,
        message: `is ${bytes} bytes of UTF-8, more than the ${MAX_USER_ID_BYTES} the points ledger can index: it could never be credited as it is`
      })
    }
  }
  return {
    dedupKey: arrival.test ? `test:${accepted.identity}` : accepted.identity,
    status: holds.length > 0 ? "held" : "pending",
    source: accepted.source,
    offerId: postback.offerId,
    advertiserName: postback.advertiserName,
    payout: postback.payout.toString(),
    occurredAt: timestampText(postback.timestamp),
    isLoyaltyBoost: postback.isLoyaltyBoost,
    payload: JSON.stringify(postback.payload),
    userId,
    deliveryCount: 1,
    flags: accepted.flags.length === 0 ? null : storableJson(accepted.flags),
    problems: holds.length === 0 ? null : storableJson(holds),
    receivedAt: arrival.receivedAt,
    arrivedAt: arrival.arrivedAt,
    test: arrival.test
  }
}

/** The core's 400 (`{ error, message, issues }`) with the stored row's `id`. */
const rejectedAnswer = (rejected: Rejected, id: number | undefined): Answer => {
  const answer = answerOf(rejected)
  return id === undefined
    ? answer
    : { ...answer, body: JSON.stringify({ ...(JSON.parse(answer.body) as object), id }) }
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
