// The PostgreSQL driver as patched (patches/postgres@3.4.9.patch): failures
// the driver meets on its own, with no caller to hand them to, must not end
// the process as an unhandled rejection.

import postgres from "postgres"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { testDatabaseUrl } from "./support/databases.ts"

describe.runIf(testDatabaseUrl !== undefined)("postgres driver", () => {
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  beforeEach(() => {
    unhandled.length = 0
    process.on("unhandledRejection", onUnhandled)
  })
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled)
  })

  it("a catalog query cancelled at connection start (statement_timeout) is no unhandled rejection; queries still answer", async () => {
    // A 1 ms statement_timeout set at the start-up handshake cancels the
    // driver's own array-type query (porsager/postgres#1192, #1205), as a
    // timeout or a cancelled backend does during an incident.
    const sql = postgres(testDatabaseUrl!, {
      max: 1,
      onnotice: () => {},
      connection: { statement_timeout: 1 }
    })
    try {
      const answers: Array<string> = []
      for (let i = 0; i < 5; i++) {
        answers.push(
          await sql`SELECT 1 AS one`.then(
            (rows) => `one=${rows[0]!.one}`,
            (error: { code?: string }) => `error ${error.code}`
          )
        )
      }
      // Node reports an unhandled rejection once the microtasks of the turn
      // that rejected it have run: the next turn sees every report
      await new Promise((resolve) => setImmediate(resolve))
      // the catalog query did fail: no array type was learnt
      const { shared } = sql.options as unknown as { shared: { typeArrayMap: object } }
      expect(Object.keys(shared.typeArrayMap)).toEqual([])
      // the connection stays usable: each query answers or fails on its own
      expect(answers.every((a) => a === "one=1" || a === "error 57014")).toBe(true)
      expect(unhandled).toEqual([])
    } finally {
      await sql.end()
    }
  })
})
