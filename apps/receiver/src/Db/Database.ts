import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { PGlite, types } from "@electric-sql/pglite"
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core"
import { drizzle as drizzlePglite } from "drizzle-orm/pglite"
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator"
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js"
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator"
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import postgres from "postgres"
import { ReceiverConfig } from "../Config.ts"
import { lockDataDir } from "./DataDirLock.ts"
import * as schema from "./schema.ts"

/** A database call failed (connection lost, constraint, timeout...). */
export class DatabaseError extends Data.TaggedError("DatabaseError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.operation}: ${cause}`
  }
}

/**
 * Plain SQL with positional parameters; the same text runs on PostgreSQL and
 * PGlite, and its rows come back alike from both drivers:
 *
 * - `bigint` (int8) and `numeric` as strings (exact; `Number()` them where
 *   they are ids), `smallint` and `integer` as numbers, `boolean` as booleans;
 * - `timestamptz`, `timestamp` and `date` as `Date` (also in the years 1 to
 *   99, which both drivers' own parsers read as 1901 to 1999 or 2001 to 2099);
 * - `json` and `jsonb` parsed.
 */
export interface SqlRunner {
  query<Row>(text: string, params?: ReadonlyArray<unknown>): Promise<Array<Row>>
}

/**
 * The raw driver behind drizzle, for the few statements that are hot or
 * shaped beyond what the query builder says well. Rows are normalised here,
 * once, for both drivers (see {@link SqlRunner}).
 */
export interface Sql extends SqlRunner {
  readonly dialect: "postgres" | "pglite"
  transaction<A>(f: (tx: SqlRunner) => Promise<A>): Promise<A>
  /** Calls `onNotify` on every notification on `channel`; returns the unsubscribe. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>
}

export type AppDatabase = PgDatabase<PgQueryResultHKT, typeof schema>

const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url))

// Every replica migrates at start; the advisory lock makes them take turns,
// so only the first applies anything and the others find nothing to do.
const MIGRATION_LOCK = 7_304_113_581

/** Default bound on one database call (a statement, or a whole transaction). */
export const DEFAULT_TIMEOUT_MS = 5_000

/**
 * Bounds a driver call. A database that stops answering (a dead connection
 * the driver has not noticed, a lock held elsewhere) must turn into an error
 * the caller can act on: a 503 for the sender, a retry for the worker. The
 * call itself may still complete later; every write here is idempotent
 * (dedup key, unique credit), so that is harmless.
 */
const bounded = <A>(operation: string, timeoutMs: number, promise: Promise<A>): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${operation} timed out after ${timeoutMs} ms`)),
      timeoutMs
    )
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// PostgreSQL's text form of a date or time stamp: `2023-09-20 15:27:40.802+00`,
// `0001-01-01 00:00:00+00`, `2023-09-20` (the ISO DateStyle, any session time zone).
const PG_TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/

/**
 * A PostgreSQL date or time stamp as a `Date` (milliseconds; a time stamp
 * without a zone is read as UTC). Exact for every year: `new Date(text)`
 * reads the years 0 to 99 as 1900 to 1999 (or 2000 to 2099).
 */
export const parseTimestamp = (text: string): Date => {
  const m = PG_TIMESTAMP.exec(text)
  if (m === null) return new Date(text === "infinity" ? Number.NaN : Date.parse(text))
  const year = m[12] === undefined ? Number(m[1]) : 1 - Number(m[1])
  const offsetSeconds =
    m[8] === undefined
      ? 0
      : (m[8] === "-" ? -1 : 1) *
        (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0))
  const date = new Date(0)
  date.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]))
  date.setUTCHours(
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0) - offsetSeconds,
    m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0").slice(0, 3))
  )
  return date
}

const identity = (text: string): string => text

// PGlite's parsers for every query of the raw runner (drizzle passes its own
// for dates, per query): int8 stays a string like postgres.js gives it.
const PGLITE_PARSERS = {
  [types.INT8]: identity,
  [types.TIMESTAMPTZ]: parseTimestamp,
  [types.TIMESTAMP]: parseTimestamp,
  [types.DATE]: parseTimestamp
}

const DATE_TYPES = new Set<number>([types.TIMESTAMPTZ, types.TIMESTAMP, types.DATE])

/**
 * postgres.js rows in the shape of {@link SqlRunner}. drizzle turns
 * postgres.js's date parsers off for the whole client (it maps dates itself),
 * so the raw runner's dates arrive as text: they are parsed here.
 */
const postgresRows = <Row>(result: postgres.RowList<Array<postgres.Row>>): Array<Row> => {
  const dates = result.columns?.filter((column) => DATE_TYPES.has(column.type))
  if (dates !== undefined && dates.length > 0) {
    for (const row of result) {
      for (const { name } of dates) {
        const value = row[name]
        if (typeof value === "string") row[name] = parseTimestamp(value)
      }
    }
  }
  return result as unknown as Array<Row>
}

const openPostgres = (url: string, poolSize: number, timeoutMs: number) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      postgres(url, {
        max: poolSize,
        onnotice: () => {},
        connect_timeout: 5,
        idle_timeout: 60,
        // postgres.js counts failed connections for the whole pool and waits
        // up to 20 s before the next attempt; after an outage that would keep
        // answering 503 long after the database is back. Retry sooner.
        backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 2),
        // The server gives up on a statement the client has stopped waiting for.
        connection: { application_name: "postback-receiver", statement_timeout: timeoutMs }
      })
    ),
    (client) => Effect.promise(() => client.end({ timeout: 5 }))
  ).pipe(
    Effect.tap(() =>
      Effect.tryPromise({
        // Migrations get a connection of their own: one session for the
        // advisory lock and the migration, and no statement timeout (building
        // an index on a large table may take a while).
        try: async () => {
          const single = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 })
          try {
            await single.unsafe("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK])
            try {
              await migratePostgres(drizzlePostgres(single, { schema }), { migrationsFolder })
            } finally {
              await single.unsafe("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK])
            }
          } finally {
            await single.end({ timeout: 5 })
          }
        },
        catch: (cause) => new DatabaseError({ operation: "migrate PostgreSQL", cause })
      })
    ),
    Effect.map((client) => {
      const sql: Sql = {
        dialect: "postgres",
        query: async <Row>(text: string, params: ReadonlyArray<unknown> = []) =>
          postgresRows<Row>(
            await bounded(
              "query",
              timeoutMs,
              client.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, {
                prepare: true
              })
            )
          ),
        transaction: (f) =>
          bounded(
            "transaction",
            timeoutMs,
            client.begin((tx) =>
              f({
                query: async <Row>(text: string, params: ReadonlyArray<unknown> = []) =>
                  postgresRows<Row>(
                    await tx.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, {
                      prepare: true
                    })
                  )
              })
            ) as Promise<never>
          ),
        listen: async (channel, onNotify) => {
          const subscription = await client.listen(channel, () => onNotify())
          return () => subscription.unlisten()
        }
      }
      return { db: drizzlePostgres(client, { schema }) as unknown as AppDatabase, sql }
    })
  )

/**
 * Takes `folder` (PGlite's files inside `RECEIVER_DATA_DIR`) for this process
 * until the scope closes; fails at once when another process holds it.
 */
const lockFolder = (dataDir: string, folder: string) =>
  Effect.gen(function* () {
    const context = yield* Effect.context<never>()
    return yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => {
          mkdirSync(folder, { recursive: true })
          return lockDataDir(resolve(dataDir), folder, (error) => {
            // Another process took the folder over (this one stalled past the
            // stale period): writing on would corrupt its data. Stop now.
            Effect.runSyncWith(context)(
              Effect.logError(
                `Lost the lock on RECEIVER_DATA_DIR ${resolve(dataDir)} to another process (${error.message}); exiting so that only one process writes the embedded database`
              )
            )
            process.exit(1)
          })
        },
        catch: (cause) =>
          new DatabaseError({ operation: "open the embedded database (PGlite)", cause })
      }),
      (release) => Effect.promise(() => release().catch(() => {}))
    )
  })

/**
 * PostgreSQL settings of the embedded database, given to PGlite at every
 * start (`-c name=value`, over the `postgresql.conf` initdb wrote). PGlite's
 * defaults are sized for a server (initdb picks `shared_buffers = 128MB`),
 * and in PGlite every page of that buffer pool is WebAssembly memory that is
 * touched at start and never given back: the receiver held about 880 MB
 * idle. Sized for a small container instead; the figures and the reasoning
 * are in the README's "Memory and start-up".
 *
 * - `shared_buffers`: 16 MB of PostgreSQL's own page cache. Reads past it go
 *   to the data files through the operating system's page cache, which the
 *   kernel can reclaim; the receiver's hot rows (the pending inbox, the
 *   indexes' upper pages) fit.
 * - `max_connections`: PGlite is one backend; the shared arrays sized by
 *   this (process slots, lock tables) need not be sized for 100.
 * - `maintenance_work_mem`: the most an index build (a migration) takes;
 *   whatever it touches stays in the WebAssembly memory.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: "16MB",
  max_connections: "8",
  maintenance_work_mem: "16MB"
}

const PGLITE_START_PARAMS: Array<string> = [
  ...PGlite.defaultStartParams,
  ...Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ["-c", `${name}=${value}`])
]

// Creates a data folder (initdb) in a child process that exits when done.
// PGlite 0.5 runs initdb in a second PGlite instance, which copies its whole
// 128 MB heap and restores that copy before each PostgreSQL run: about
// 300 MB of WebAssembly memory that would stay in the receiver until a full
// garbage collection, which an idle receiver may never run. The child prints
// its peak resident memory (VmHWM, KiB) as its last line.
const PGLITE_INIT_SCRIPT = `
const [entry, folder, params] = process.argv.slice(1)
require(entry).PGlite.create(folder, { startParams: JSON.parse(params) })
  .then((db) => db.close())
  .then(() => {
    const hwm = /VmHWM:\\s+(\\d+)/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))
    console.log(hwm === null ? "" : hwm[1])
  })
  .catch((error) => { console.error(error); process.exit(1) })
`

/** What creating an embedded database cost: wall time, and the initdb process's peak. */
export interface PgliteInitialised {
  readonly milliseconds: number
  /** Peak resident memory of the initdb process, in MiB (undefined where /proc is not). */
  readonly peakMiB: number | undefined
}

/**
 * Creates an empty data folder's database in a child process (see above),
 * in `folder.init` beside it, renamed into place when complete: a start
 * killed half-way leaves no half-made database to resume from. A folder that
 * already holds files is left to PGlite; resolves with `undefined` then.
 */
const initialisePgliteFolder = async (folder: string): Promise<PgliteInitialised | undefined> => {
  if (existsSync(`${folder}/PG_VERSION`) || readdirSync(folder).length > 0) return undefined
  const started = performance.now()
  const staging = `${folder}.init`
  rmSync(staging, { recursive: true, force: true })
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite")
  const stdout = await new Promise<string>((done, fail) => {
    const child = spawn(
      process.execPath,
      ["-e", PGLITE_INIT_SCRIPT, entry, staging, JSON.stringify(PGLITE_START_PARAMS)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once("error", fail)
    child.once("exit", (code, signal) =>
      code === 0
        ? done(stdout)
        : fail(new Error(`initdb in ${staging} failed (${code ?? signal}): ${stderr.trim()}`))
    )
  })
  // Replaces the empty folder in one step.
  renameSync(staging, folder)
  const peakKiB = Number(stdout.trim().split("\n").at(-1))
  return {
    milliseconds: Math.round(performance.now() - started),
    peakMiB: Number.isFinite(peakKiB) && peakKiB > 0 ? Math.round(peakKiB / 1024) : undefined
  }
}

const openPglite = (
  location: { readonly dataDir: string; readonly folder: string } | undefined,
  timeoutMs: number
) =>
  Effect.gen(function* () {
    if (location !== undefined) {
      yield* lockFolder(location.dataDir, location.folder)
      const created = yield* Effect.tryPromise({
        try: () => initialisePgliteFolder(location.folder),
        catch: (cause) =>
          new DatabaseError({ operation: "create the embedded database (PGlite)", cause })
      })
      if (created !== undefined) {
        yield* Effect.logInfo("Created the embedded database").pipe(
          Effect.annotateLogs({
            folder: location.folder,
            milliseconds: created.milliseconds,
            initdbPeakMiB: created.peakMiB ?? "unknown"
          })
        )
      }
    }
    return yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = await PGlite.create(
            location === undefined ? "memory://" : location.folder,
            { parsers: PGLITE_PARSERS, startParams: PGLITE_START_PARAMS }
          )
          await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder })
          return client
        },
        catch: (cause) => new DatabaseError({ operation: "open PGlite", cause })
      }),
      (client) => Effect.promise(() => client.close())
    )
  }).pipe(
    Effect.map((client) => {
      const sql: Sql = {
        dialect: "pglite",
        query: async (text, params = []) =>
          (await bounded("query", timeoutMs, client.query(text, params as Array<unknown>)))
            .rows as Array<never>,
        transaction: (f) =>
          bounded(
            "transaction",
            timeoutMs,
            client.transaction((tx) =>
              f({
                query: async (text, params = []) =>
                  (await tx.query(text, params as Array<unknown>)).rows as Array<never>
              })
            )
          ),
        listen: (channel, onNotify) => client.listen(channel, () => onNotify())
      }
      return { db: drizzlePglite(client, { schema }) as unknown as AppDatabase, sql }
    })
  )

const pgliteFolder = (dataDir: string): string => `${dataDir.replace(/\/+$/, "")}/pglite`

/**
 * The receiver's storage: drizzle for queries, the raw driver for hot paths.
 * PostgreSQL through postgres.js when `DATABASE_URL` is set, otherwise
 * embedded PGlite in `RECEIVER_DATA_DIR/pglite`. Migrations run on open.
 */
export class Database extends Context.Service<
  Database,
  { readonly db: AppDatabase; readonly sql: Sql }
>()("@org/receiver/Database") {
  static readonly layerPostgres = (
    url: string,
    options: { readonly poolSize?: number; readonly timeoutMs?: number } = {}
  ): Layer.Layer<Database, DatabaseError> =>
    Layer.effect(
      Database,
      openPostgres(url, options.poolSize ?? 10, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    )

  /**
   * Embedded PGlite in `dataDir/pglite` (taken for this process: a second
   * process on the same folder fails), or in memory when `dataDir` is
   * undefined.
   */
  static readonly layerPglite = (
    dataDir?: string,
    options: { readonly timeoutMs?: number } = {}
  ): Layer.Layer<Database, DatabaseError> =>
    Layer.effect(
      Database,
      openPglite(
        dataDir === undefined ? undefined : { dataDir, folder: pgliteFolder(dataDir) },
        options.timeoutMs ?? DEFAULT_TIMEOUT_MS
      )
    )

  /** Chooses from `DATABASE_URL` and `RECEIVER_DATA_DIR`. */
  static readonly layer: Layer.Layer<Database, DatabaseError, ReceiverConfig> = Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      return Option.match(config.databaseUrl, {
        onNone: () => {
          const folder = pgliteFolder(config.dataDir)
          return Layer.effect(
            Database,
            Effect.logInfo(`Using embedded PGlite in ${folder}`).pipe(
              Effect.andThen(
                openPglite({ dataDir: config.dataDir, folder }, config.databaseTimeoutMs)
              )
            )
          )
        },
        onSome: (url) =>
          Layer.effect(
            Database,
            Effect.logInfo(`Using PostgreSQL at ${postgresTarget(Redacted.value(url))}`).pipe(
              Effect.andThen(
                openPostgres(Redacted.value(url), config.databasePoolSize, config.databaseTimeoutMs)
              )
            )
          )
      })
    })
  )
}

/**
 * Where a PostgreSQL URL points, for the log: `host:port/database`, never
 * the user or the password (`DATABASE_URL` is a secret).
 */
export const postgresTarget = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname || "/"}`
  } catch {
    return "(DATABASE_URL)"
  }
}

/** Runs a driver call as an Effect, failing with a `DatabaseError` naming the operation. */
export const useSql = <A>(
  operation: string,
  f: () => Promise<A>
): Effect.Effect<A, DatabaseError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new DatabaseError({ operation, cause }) })
