import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import postgres from "postgres"
import { Database, type DatabaseError } from "../../src/Db/Database.ts"

/** The PostgreSQL server the tests may use; with `CI` set, the tests require it. */
export const testDatabaseUrl: string | undefined =
  process.env.TEST_DATABASE_URL ??
  (process.env.CI ? "postgres://postgres@127.0.0.1:5432/test" : undefined)

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/**
 * A PostgreSQL database of its own for one test suite: created empty on the
 * test server, migrated by the layer, and dropped afterwards. Suites never
 * share data, so they can run in parallel.
 */
export const makeIsolatedPostgres = (
  baseUrl: string
): Effect.Effect<
  { readonly url: string; readonly name: string },
  never,
  import("effect").Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const name = `receiver_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`
      const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`)
      } finally {
        await admin.end()
      }
      return { url: withDatabase(baseUrl, name), name }
    }),
    ({ name }) =>
      Effect.promise(async () => {
        const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
        try {
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        } finally {
          await admin.end()
        }
      })
  )

/** Database layers to run each storage suite against. */
export interface TestDatabase {
  readonly name: "pglite" | "postgres"
  readonly layer: () => Layer.Layer<Database, DatabaseError>
}

export const testDatabases: ReadonlyArray<TestDatabase> = [
  { name: "pglite", layer: () => Database.layerPglite() },
  ...(testDatabaseUrl === undefined
    ? []
    : [
        {
          name: "postgres" as const,
          layer: () =>
            Layer.unwrap(
              Effect.map(makeIsolatedPostgres(testDatabaseUrl), ({ url }) =>
                Database.layerPostgres(url, { poolSize: 6 })
              )
            )
        }
      ])
]
