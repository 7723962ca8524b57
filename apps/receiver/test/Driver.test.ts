// The PostgreSQL driver as patched (patches/postgres@3.4.9.patch): failures
// the driver meets on its own, with no caller to hand them to, must not end
// the process as an unhandled rejection, and a query that fails part-way
// through its rows must leave nothing behind for the next one.

import { connect, createServer, type Server, type Socket } from "node:net"
import postgres from "postgres"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { testDatabaseUrl } from "./support/databases.ts"

/**
 * A TCP proxy in front of PostgreSQL that reads the client's messages
 * (PostgreSQL protocol 3.0: a start-up message, then type byte + Int32
 * length) and hands each Parse message's SQL to `rewrite` before passing it
 * on. The server and its answers are real; only the statement changes.
 */
const rewritingProxy = async (target: URL, rewrite: (sql: string) => string) => {
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    sockets.add(client).add(upstream)
    let pending = Buffer.alloc(0)
    let started = false
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      const out: Array<Buffer> = []
      for (;;) {
        const head = started ? 1 : 0
        if (pending.length < head + 4) break
        const length = pending.readInt32BE(head) + head
        if (pending.length < length) break
        let message = pending.subarray(0, length)
        pending = pending.subarray(length)
        if (!started) started = true
        else if (message[0] === 0x50) {
          // Parse: name \0, query \0, Int16 parameter count, Int32 oids
          const nameEnd = message.indexOf(0, 5)
          const queryEnd = message.indexOf(0, nameEnd + 1)
          const query = Buffer.from(rewrite(message.toString("utf8", nameEnd + 1, queryEnd)))
          const rest = message.subarray(queryEnd)
          const rebuilt = Buffer.concat([message.subarray(0, nameEnd + 1), query, rest])
          rebuilt.writeInt32BE(rebuilt.length - 1, 1)
          message = rebuilt
        }
        out.push(message)
      }
      if (out.length > 0) upstream.write(Buffer.concat(out))
    })
    upstream.on("data", (chunk: Buffer) => client.write(chunk))
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("error", drop).on("close", drop)
    upstream.on("error", drop).on("close", drop)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = new URL(target)
  url.hostname = "127.0.0.1"
  url.port = String((server.address() as { port: number }).port)
  return {
    url: url.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

// streams rows for 1 and 2, then fails in its third row (22012)
const failsInRowThree = "SELECT i, 1 / (3 - i) AS r FROM generate_series(1, 10) AS i"

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

  it("a query that fails part-way through its rows leaves no offset for the next query on the connection", async () => {
    const sql = postgres(testDatabaseUrl!, { max: 1, onnotice: () => {} })
    try {
      // one after the other
      const failed = await sql.unsafe(failsInRowThree).then(
        () => "answered",
        (error: { code?: string }) => error.code
      )
      expect(failed).toBe("22012")
      const after = await sql`SELECT x FROM generate_series(1, 5) AS x`
      expect(after.length).toBe(5)
      expect([...after].map((row) => row.x)).toEqual([1, 2, 3, 4, 5])
      // pipelined behind it on the same connection
      const [first, second] = await Promise.all([
        sql.unsafe(failsInRowThree).then(
          () => "answered",
          (error: { code?: string }) => error.code
        ),
        sql`SELECT x FROM generate_series(1, 3) AS x`
      ])
      expect(first).toBe("22012")
      expect([...second].map((row) => row.x)).toEqual([1, 2, 3])
    } finally {
      await sql.end()
    }
  })

  it("the array-type catalog query failing at connection start is no unhandled rejection; the connection answers afterwards", async () => {
    // The driver's own array-type query (porsager/postgres#1192, #1205),
    // made to fail after two of its rows, as a statement_timeout or a
    // cancelled backend makes it fail during an incident.
    const proxy = await rewritingProxy(new URL(testDatabaseUrl!), (query) =>
      query.includes("typcategory")
        ? "SELECT i::oid AS oid, (i + 1000)::oid AS typarray, 1 / (3 - i) AS r FROM generate_series(1, 10) AS i"
        : query
    )
    const sql = postgres(proxy.url, { max: 1, onnotice: () => {} })
    try {
      const answers: Array<string> = []
      for (let i = 0; i < 3; i++) {
        answers.push(
          await sql`SELECT 1 AS one`.then(
            (rows) => `rows=${JSON.stringify([...rows])}`,
            (error: { code?: string }) => `error ${error.code}`
          )
        )
      }
      // Node reports an unhandled rejection once the microtasks of the turn
      // that rejected it have run: the next turn sees every report
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).toEqual([])
      // the first query waited on the catalog query and fails with it; the
      // connection stays open and answers every later query in full
      expect(answers).toEqual(["error 22012", `rows=[{"one":1}]`, `rows=[{"one":1}]`])
      // no array type was learnt from the failed catalog query
      const { shared } = sql.options as unknown as { shared: { typeArrayMap: object } }
      expect(Object.keys(shared.typeArrayMap)).toEqual([])
    } finally {
      await sql.end()
      await proxy.close()
    }
  })
})
