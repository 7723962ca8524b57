import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { PGlite } from "@electric-sql/pglite"
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core"
import { drizzle as drizzlePglite } from "drizzle-orm/pglite"
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator"
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js"
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator"
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import postgres from "postgres"
import { ReceiverConfig } from "../Config.ts"
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

/** Plain SQL with positional parameters; the same text runs on PostgreSQL and PGlite. */
export interface SqlRunner {
  query<Row>(text: string, params?: ReadonlyArray<unknown>): Promise<Array<Row>>
}

/**
 * The raw driver behind drizzle, for the few statements that are hot or
 * shaped beyond what the query builder says well. postgres.js and PGlite
 * return different shapes from `execute()`; this interface hides that.
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
        query: (text, params = []) =>
          bounded(
            "query",
            timeoutMs,
            client.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, {
              prepare: true
            })
          ),
        transaction: (f) =>
          bounded(
            "transaction",
            timeoutMs,
            client.begin((tx) =>
              f({
                query: (text, params = []) =>
                  tx.unsafe(text, params as Array<postgres.ParameterOrJSON<never>>, {
                    prepare: true
                  })
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

const openPglite = (dataDir: string | undefined, timeoutMs: number) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true })
        const client = await PGlite.create(dataDir === undefined ? "memory://" : dataDir)
        await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder })
        return client
      },
      catch: (cause) => new DatabaseError({ operation: "open PGlite", cause })
    }),
    (client) => Effect.promise(() => client.close())
  ).pipe(
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

  /** Embedded PGlite; in memory when `dataDir` is undefined. */
  static readonly layerPglite = (
    dataDir?: string,
    options: { readonly timeoutMs?: number } = {}
  ): Layer.Layer<Database, DatabaseError> =>
    Layer.effect(Database, openPglite(dataDir, options.timeoutMs ?? DEFAULT_TIMEOUT_MS))

  /** Chooses from `DATABASE_URL` and `RECEIVER_DATA_DIR`. */
  static readonly layer: Layer.Layer<Database, DatabaseError, ReceiverConfig> = Layer.unwrap(
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      return Option.match(config.databaseUrl, {
        onNone: () => {
          const dir = `${config.dataDir.replace(/\/+$/, "")}/pglite`
          return Layer.effect(
            Database,
            Effect.logInfo(`Using embedded PGlite in ${dir}`).pipe(
              Effect.andThen(openPglite(dir, config.databaseTimeoutMs))
            )
          )
        },
        onSome: (url) =>
          Layer.effect(
            Database,
            openPostgres(Redacted.value(url), config.databasePoolSize, config.databaseTimeoutMs)
          )
      })
    })
  )
}

/** Runs a driver call as an Effect, failing with a `DatabaseError` naming the operation. */
export const useSql = <A>(
  operation: string,
  f: () => Promise<A>
): Effect.Effect<A, DatabaseError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new DatabaseError({ operation, cause }) })
