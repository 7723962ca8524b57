import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { NetAddress } from "effect/net"
import { makeReceiver } from "../../src/App.ts"
import { ReceiverConfig } from "../../src/Config.ts"
import { Database, type Sql } from "../../src/Db/Database.ts"
import { Worker } from "../../src/Worker/Worker.ts"
import type { TestDatabase } from "./databases.ts"
import { TEST_SECRET, testEnv } from "./env.ts"

export { TEST_ADMIN_TOKEN, TEST_SECRET } from "./env.ts"

/** A receiver running in this process on a free port, and handles to look inside it. */
export class TestReceiver extends Context.Service<
  TestReceiver,
  {
    readonly baseUrl: string
    /** `/postbacks` with the secret (and any extra query). */
    readonly postbackUrl: (query?: string) => string
    readonly sql: Sql
    readonly worker: Worker["Service"]
  }
>()("test/TestReceiver") {}

/** The whole receiver on `database`, with settings from `env` over test defaults. */
export const testReceiver = (database: TestDatabase, env: Record<string, string> = {}) =>
  Layer.effect(
    TestReceiver,
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      const { sql } = yield* Database
      const worker = yield* Worker
      const port = NetAddress.isInetAddress(server.address) ? server.address.port : 0
      const baseUrl = `http://127.0.0.1:${port}`
      return {
        baseUrl,
        postbackUrl: (query = "") =>
          `${baseUrl}/postbacks?secret=${TEST_SECRET}${query === "" ? "" : `&${query}`}`,
        sql,
        worker
      }
    })
  ).pipe(
    Layer.provideMerge(makeReceiver(database.layer())),
    Layer.provide(ReceiverConfig.fromRecord(testEnv(env)))
  )

/** Polls `check` until it returns a value other than `undefined`, for at most `timeoutMs`. */
export const eventually = <A>(
  check: () => Promise<A | undefined>,
  timeoutMs = 120_000
): Effect.Effect<A> =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = await check()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error("condition not met in time")
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
