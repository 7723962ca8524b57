import { Effect, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { NetAddress } from "effect/net"
import { ReceiverApi, TestPostbackResult } from "../Api.ts"
import { ReceiverConfig } from "../Config.ts"
import { Database, useSql } from "../Db/Database.ts"
import type { PostbackStatus } from "../Db/schema.ts"
import { TEST_POSTBACK_HEADER } from "../Ingest/Edge.ts"
import { INGEST_PATH } from "../Ingest/Route.ts"
import { Secrets } from "../Secrets.ts"
import { DEFAULT_OPERATOR } from "./Actions.ts"
import { recordAction } from "./ActionsSql.ts"

/**
 * The sample a test postback carries unless told otherwise: the example of
 * MomentScience's postback documentation (offer 1511, 2.10 USD,
 * LoyaltyBoost, user 3410444), stamped now, so that it exercises the
 * crediting path up to the point where a test stops.
 */
export const TEST_POSTBACK_SAMPLE = {
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: "2.10",
  userId: "3410444"
} as const

/** How long the loopback request may take: the ingest route's own bound is well under it. */
const TEST_POSTBACK_TIMEOUT_MS = 30_000

/**
 * The URL of this receiver's own ingest route: the host it listens on (a
 * wildcard address, or none, reached over loopback) and the port it got.
 */
const ingestUrl = (host: string, port: number): string => {
  const target =
    host === "" || host === "0.0.0.0"
      ? "127.0.0.1"
      : host === "::"
        ? "[::1]"
        : host.includes(":")
          ? `[${host}]`
          : host
  return `http://${target}:${port}${INGEST_PATH}`
}

/**
 * `POST /api/test-postback`: sends one postback through the real ingest
 * route, as MomentScience's "Test endpoint" button does: an HTTP POST with
 * a JSON body to this receiver's own `/postbacks`, over loopback, with the
 * postback secret in the URL and the test marker (the `x-postback-test: 1`
 * header, honoured only with the valid secret). The row is stored with
 * `test = true`, settled by the worker as `recorded` (reason `test`) and
 * never credited. The send is recorded in the audit trail
 * (`test_postback`) when a row was stored.
 *
 * Answers `{ id, status, httpStatus }`: the stored row's id and the status
 * it was stored with (`pending`, `held`, `rejected`; the worker settles it
 * later), or the ingest route's error code when it stored nothing (as on a
 * 503), and the HTTP status the route answered.
 */
export const TestPostbackLive = HttpApiBuilder.group(ReceiverApi, "testPostback", (handlers) =>
  Effect.gen(function* () {
    const server = yield* HttpServer.HttpServer
    const config = yield* ReceiverConfig
    const secrets = yield* Secrets
    const { sql } = yield* Database
    return handlers.handle(
      "sendTestPostback",
      Effect.fn("TestPostback.send")(function* ({ payload }) {
        const port = NetAddress.isInetAddress(server.address) ? server.address.port : config.port
        const url = new URL(ingestUrl(config.host, port))
        url.searchParams.set(config.secretParam, Redacted.value(secrets.postbackSecret))
        const body = JSON.stringify({
          offer_id: payload.offerId ?? TEST_POSTBACK_SAMPLE.offerId,
          advertiser_name: TEST_POSTBACK_SAMPLE.advertiserName,
          payout: payload.payout ?? TEST_POSTBACK_SAMPLE.payout,
          timestamp: new Date().toISOString(),
          is_loyaltyboost: "1",
          payload: { [config.userIdKey]: payload.userId ?? TEST_POSTBACK_SAMPLE.userId }
        })
        const answer = yield* Effect.tryPromise({
          try: async (signal) => {
            const response = await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json", [TEST_POSTBACK_HEADER]: "1" },
              body,
              signal: AbortSignal.any([signal, AbortSignal.timeout(TEST_POSTBACK_TIMEOUT_MS)])
            })
            const text = await response.text()
            let json: { id?: unknown; status?: unknown; error?: unknown; duplicate?: unknown } = {}
            try {
              json = JSON.parse(text)
            } catch {}
            return { httpStatus: response.status, json }
          },
          catch: (cause) => cause
        }).pipe(Effect.orDie)
        const id = typeof answer.json.id === "number" ? answer.json.id : null
        if (id === null) {
          return new TestPostbackResult({
            id: null,
            status: typeof answer.json.error === "string" ? answer.json.error : "not_stored",
            httpStatus: answer.httpStatus
          })
        }
        const operator = payload.operator?.trim() || DEFAULT_OPERATOR
        // The status the ingest route stored it with (the worker may have
        // moved it on already); a duplicate's is read from its row.
        const stored: PostbackStatus | undefined =
          answer.httpStatus === 400
            ? "rejected"
            : answer.json.duplicate === true
              ? undefined
              : answer.json.status === "held"
                ? "held"
                : "pending"
        const status = yield* useSql("record test postback", () =>
          sql.transaction(async (tx) => {
            await recordAction(
              tx,
              id,
              "test_postback",
              { operator, reason: null, idempotencyKey: null },
              { httpStatus: answer.httpStatus, answer: answer.json }
            )
            if (stored !== undefined) return stored
            const rows = await tx.query<{ status: PostbackStatus }>(
              "SELECT status FROM postbacks WHERE id = $1::bigint",
              [String(id)]
            )
            return rows[0]?.status ?? "pending"
          })
        ).pipe(Effect.orDie)
        return new TestPostbackResult({ id, status, httpStatus: answer.httpStatus })
      })
    )
  })
)
