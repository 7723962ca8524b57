import { createReadStream } from "node:fs"
import { Effect, Layer, Logger, Option, Redacted, Runtime, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { ReceiverConfig } from "../Config.ts"
import { Database } from "../Db/Database.ts"
import { INGEST_PATH } from "../Ingest/Route.ts"
import { Secrets } from "../Secrets.ts"
import { ExportError, parseColumnsOption } from "./ExportCsv.ts"
import { type ReconciliationSummary, reconcile } from "./Reconcile.ts"
import { reingest } from "./Recovery.ts"
import { allReportRows, type ReportRow, reportCsv, summaryTable } from "./Report.ts"

/**
 * The reconciliation found something a person must act on: lost
 * conversions, conversions MomentScience delivered that are absent here, or
 * lines of the export that could not be read. Exit code 2 (1 is an error:
 * a bad option, an unreadable file, a database that does not answer).
 */
export class ReconciliationAlarm extends Error {
  override readonly [Runtime.errorExitCode] = 2
}

const alarmMessage = (summary: ReconciliationSummary): string => {
  const { lost, missing, unreadable } = summary.categories
  const parts = [
    lost.count > 0 ? `${lost.count} conversions lost (${lost.payout} USD)` : undefined,
    missing.count > 0
      ? `${missing.count} delivered at MomentScience but absent here (${missing.payout} USD)`
      : undefined,
    unreadable.count > 0 ? `${unreadable.count} lines of the export unreadable` : undefined
  ].filter((part) => part !== undefined)
  return `reconciliation ${summary.id}: ${parts.join("; ")}`
}

// Long enough for a million-row export: the receiver's own bound is meant
// for answering senders, not for a batch job.
const CLI_DATABASE_TIMEOUT_MS = 3_600_000

const dateFlag = (name: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(
      `${name === "from" ? "Start" : "End (exclusive)"} of the conversion-time range, ISO 8601 (default: the export's ${name === "from" ? "first" : "last"} timestamp)`
    ),
    Flag.optional
  )

const write = (text: string | Uint8Array): Effect.Effect<void> =>
  Effect.promise(
    () =>
      new Promise<void>((resolve) => {
        if (process.stdout.write(text)) resolve()
        else process.stdout.once("drain", () => resolve())
      })
  )

const parseDate = (name: string, value: Option.Option<string>): Date | undefined => {
  if (Option.isNone(value)) return undefined
  const date = new Date(value.value)
  if (Number.isNaN(date.getTime())) {
    throw new ExportError({
      field: name,
      message: `${name}: "${value.value}" is not an ISO 8601 date or time (2026-03-01, 2026-03-01T12:00:00Z)`
    })
  }
  return date
}

/**
 * `receiver reconcile <export.csv>`: reconciles MomentScience's postback
 * history export against the inbox, reading the database directly (the
 * receiver's settings: `DATABASE_URL`, or the embedded data folder, which a
 * running receiver holds: then upload the export on the console page or to
 * `POST /api/reconciliations`). Stores the report, prints it (`--format
 * table|csv|json`), and with `--reingest` sends the lost conversions to the
 * running receiver's ingest route (`--url`, default
 * `http://127.0.0.1:$PORT`). Exits 2 when anything is lost or alarming
 * after that, 1 on an error, 0 otherwise.
 */
export const reconcileCommand = Command.make(
  "reconcile",
  {
    file: Argument.String("export.csv").pipe(
      Argument.withDescription("MomentScience's postback history export (CSV)")
    ),
    from: dateFlag("from"),
    to: dateFlag("to"),
    tolerance: Flag.Int("tolerance").pipe(
      Flag.withDescription(
        "How far apart (ms) an export time and a stored one may be, after truncating to the export's precision"
      ),
      Flag.withDefault(1000)
    ),
    timeZone: Flag.String("time-zone").pipe(
      Flag.withDescription("IANA time zone of timestamps written without an offset"),
      Flag.withDefault("UTC")
    ),
    columns: Flag.String("columns").pipe(
      Flag.withDescription(
        "Column labels the export uses for fields: offer_id=Campaign,payout=Revenue,payload.session_id=Session"
      ),
      Flag.optional
    ),
    delimiter: Flag.Literals("delimiter", [",", ";"]).pipe(
      Flag.withDescription("The separator (default: the one the header line uses)"),
      Flag.optional
    ),
    format: Flag.Literals("format", ["table", "csv", "json"]).pipe(
      Flag.withDescription(
        "table (summary and every row that needs a person), csv or json (every row)"
      ),
      Flag.withDefault("table")
    ),
    reingest: Flag.Boolean("reingest").pipe(
      Flag.withDescription("Send the lost conversions through the running receiver's ingest route"),
      Flag.withDefault(false)
    ),
    url: Flag.String("url").pipe(
      Flag.withDescription(
        "The running receiver's base URL for --reingest (default http://127.0.0.1:$PORT)"
      ),
      Flag.optional
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const { sql } = yield* Database
      const options = yield* Effect.try({
        try: () => ({
          source: flags.file,
          from: parseDate("from", flags.from),
          to: parseDate("to", flags.to),
          toleranceMs: flags.tolerance,
          timeZone: flags.timeZone,
          columns: Option.isSome(flags.columns)
            ? parseColumnsOption(flags.columns.value)
            : undefined,
          delimiter: Option.getOrUndefined(flags.delimiter),
          userIdKey: config.userIdKey
        }),
        catch: (error) => error as ExportError
      })
      let summary = yield* Effect.tryPromise({
        try: () => reconcile(sql, createReadStream(flags.file), options),
        catch: (error) =>
          error instanceof ExportError
            ? error
            : new ExportError({
                field: "export",
                message: error instanceof Error ? error.message : String(error)
              })
      })
      if (flags.reingest && summary.categories.lost.count > 0) {
        const secrets = yield* Secrets
        const base = Option.getOrElse(flags.url, () => `http://127.0.0.1:${config.port}`)
        const url = new URL(INGEST_PATH, base)
        url.searchParams.set(config.secretParam, Redacted.value(secrets.postbackSecret))
        const result = yield* Effect.promise(() =>
          reingest(sql, summary.id, { url: url.toString(), userIdKey: config.userIdKey })
        )
        for (const failure of result.failed) {
          yield* Effect.logWarning(`Line ${failure.line}: not re-ingested: ${failure.message}`)
        }
        yield* Effect.logInfo(
          `Re-ingested ${result.stored} lost conversions (${result.duplicates} already stored, ${result.failed.length} refused)`
        )
        if (result.summary !== undefined) summary = result.summary
      }
      if (flags.format === "csv") {
        yield* Stream.runForEach(reportCsv(sql, summary.id), write).pipe(Effect.orDie)
      } else if (flags.format === "json") {
        yield* write(`{"summary":${JSON.stringify(summary)},"rows":[`)
        let first = true
        yield* Stream.fromAsyncIterable(allReportRows(sql, summary.id), (cause) => cause).pipe(
          Stream.runForEach((page) => {
            const text = page.map((row) => JSON.stringify(row)).join(",")
            const out = first ? text : `,${text}`
            first = false
            return write(out)
          }),
          Effect.orDie
        )
        yield* write("]}\n")
      } else {
        const details: Array<ReportRow> = []
        yield* Effect.promise(async () => {
          for await (const page of allReportRows(sql, summary.id)) {
            for (const row of page) if (row.category !== "delivered") details.push(row)
            if (details.length >= 1000) break
          }
        })
        yield* write(summaryTable(summary, details.slice(0, 1000)))
      }
      if (summary.alarming)
        return yield* Effect.fail(new ReconciliationAlarm(alarmMessage(summary)))
    }).pipe(
      Effect.provide(
        Layer.mergeAll(Database.layer, Secrets.layer).pipe(
          Layer.provideMerge(
            Layer.effect(
              ReceiverConfig,
              Effect.gen(function* () {
                const config = yield* ReceiverConfig
                return {
                  ...config,
                  databaseTimeoutMs: Math.max(config.databaseTimeoutMs, CLI_DATABASE_TIMEOUT_MS)
                }
              })
            ).pipe(Layer.provide(ReceiverConfig.layer))
          )
        )
      ),
      Effect.mapError((error) =>
        // The embedded database belongs to the running receiver: say where to go instead.
        error instanceof Error && error.message.includes("is in use by another receiver")
          ? new Error(
              `${error.message}; upload the export to the running receiver instead (the console page's Reconciliation tab, or POST /api/reconciliations), or stop it first`
            )
          : error
      ),
      // Logs on standard error: standard output carries the report (CSV, JSON).
      Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)]))
    )
).pipe(
  Command.withDescription(
    "Reconcile MomentScience's postback history export (CSV) against the inbox: lost, missing, unknown and mismatched conversions; exits 2 when anything is lost or alarming"
  )
)
