import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import { HttpServer, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { NetAddress } from "effect/net"
import { InvalidRequest, NotFound, ReceiverApi } from "../Api.ts"
import { ReceiverConfig } from "../Config.ts"
import { Database, useSql } from "../Db/Database.ts"
import { INGEST_PATH } from "../Ingest/Route.ts"
import { Secrets } from "../Secrets.ts"
import { ExportError, parseColumnsOption } from "./ExportCsv.ts"
import { type ReconcileOptions, reconcile } from "./Reconcile.ts"
import { reingest } from "./Recovery.ts"
import { getSummary, listSummaries, reportCsv, reportRows } from "./Report.ts"

/** This receiver's own ingest route over loopback (a wildcard address is reached on 127.0.0.1). */
const ownIngestUrl = (host: string, port: number): URL => {
  const target =
    host === "" || host === "0.0.0.0"
      ? "127.0.0.1"
      : host === "::"
        ? "[::1]"
        : host.includes(":")
          ? `[${host}]`
          : host
  return new URL(`http://${target}:${port}${INGEST_PATH}`)
}

const invalid = (error: ExportError): InvalidRequest =>
  new InvalidRequest({
    message: error.message,
    issues: [{ path: error.field, message: error.message }]
  })

const notFound = (id: number) => new NotFound({ message: `no reconciliation ${id}` })

const dateOption = (name: string, value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) {
    throw new ExportError({
      field: name,
      message: `${name}: "${value}" is not an ISO 8601 date or time`
    })
  }
  return date
}

/**
 * The reconciliations API (`/api/reconciliations`, admin token):
 * - `POST`: the export as the body (`text/csv`, streamed into the report,
 *   never held whole), options as query parameters; answers the summary
 * - `GET`: stored reports, newest first; `GET /:id` a report with a page of
 *   rows; `GET /:id/report.csv` the whole report as CSV
 * - `POST /:id/reingest`: lost conversions through this receiver's own
 *   ingest route (loopback, with the secret), exactly once
 */
export const ReconciliationsLive = HttpApiBuilder.group(
  ReceiverApi,
  "reconciliations",
  (handlers) =>
    Effect.gen(function* () {
      const { sql } = yield* Database
      const config = yield* ReceiverConfig
      const secrets = yield* Secrets
      const server = yield* HttpServer.HttpServer
      return handlers
        .handleRaw(
          "createReconciliation",
          Effect.fn("Reconciliations.create")(function* ({ query, request }) {
            const options = yield* Effect.try({
              try: (): ReconcileOptions => ({
                source: query.source?.trim() || "upload",
                from: dateOption("from", query.from),
                to: dateOption("to", query.to),
                toleranceMs: query.tolerance,
                timeZone: query.timeZone,
                columns:
                  query.columns === undefined ? undefined : parseColumnsOption(query.columns),
                delimiter: query.delimiter,
                userIdKey: config.userIdKey
              }),
              catch: (error) => invalid(error as ExportError)
            })
            const body = NodeHttpServerRequest.toIncomingMessage(request)
            const summary = yield* Effect.tryPromise({
              try: () => reconcile(sql, body, options),
              catch: (error) => error
            }).pipe(
              Effect.catch((error) =>
                error instanceof ExportError ? Effect.fail(invalid(error)) : Effect.die(error)
              )
            )
            return HttpServerResponse.jsonUnsafe(summary, { status: 201 })
          })
        )
        .handle(
          "listReconciliations",
          Effect.fn("Reconciliations.list")(function* ({ query }) {
            const limit = query.limit ?? 20
            const items = yield* useSql("list reconciliations", () =>
              listSummaries(sql, { limit, beforeId: query.before })
            ).pipe(Effect.orDie)
            return {
              items,
              nextBefore: items.length === limit ? items[items.length - 1]!.id : null
            }
          })
        )
        .handle(
          "getReconciliation",
          Effect.fn("Reconciliations.get")(function* ({ params, query }) {
            const summary = yield* useSql("read reconciliation", () =>
              getSummary(sql, params.id)
            ).pipe(Effect.orDie)
            if (summary === undefined) return yield* Effect.fail(notFound(params.id))
            const limit = query.limit ?? 200
            const rows = yield* useSql("read reconciliation rows", () =>
              reportRows(sql, params.id, { category: query.category, afterId: query.after, limit })
            ).pipe(Effect.orDie)
            return {
              summary,
              rows,
              nextAfter: rows.length === limit ? rows[rows.length - 1]!.id : null
            }
          })
        )
        .handle(
          "reconciliationCsv",
          Effect.fn("Reconciliations.csv")(function* ({ params, query }) {
            const summary = yield* useSql("read reconciliation", () =>
              getSummary(sql, params.id)
            ).pipe(Effect.orDie)
            if (summary === undefined) return yield* Effect.fail(notFound(params.id))
            return HttpServerResponse.stream(reportCsv(sql, params.id, query.category), {
              contentType: "text/csv; charset=utf-8",
              headers: {
                "content-disposition": `attachment; filename="reconciliation-${params.id}.csv"`,
                "cache-control": "no-store"
              }
            })
          })
        )
        .handle(
          "reingestReconciliation",
          Effect.fn("Reconciliations.reingest")(function* ({ params }) {
            const port = NetAddress.isInetAddress(server.address)
              ? server.address.port
              : config.port
            const url = ownIngestUrl(config.host, port)
            url.searchParams.set(config.secretParam, Redacted.value(secrets.postbackSecret))
            const result = yield* useSql("re-ingest", () =>
              reingest(sql, params.id, { url: url.toString(), userIdKey: config.userIdKey })
            ).pipe(Effect.orDie)
            if (result.summary === undefined) return yield* Effect.fail(notFound(params.id))
            return { ...result, summary: result.summary }
          })
        )
    })
)
