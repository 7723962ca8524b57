import { connect, createServer, type Server, type Socket } from "node:net"
import { Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { NetAddress } from "effect/net"
import { makeReceiver } from "../../src/App.ts"
import { ReceiverConfig } from "../../src/Config.ts"
import { Database } from "../../src/Db/Database.ts"
import { makeIsolatedPostgres, testDatabaseUrl } from "./databases.ts"
import { testEnv } from "./env.ts"

/** A TCP proxy in front of PostgreSQL that the test can cut and restore. */
export const makeProxy = (target: URL) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sockets = new Set<Socket>()
      let server: Server | undefined
      let port = 0
      // Frozen: connections stay open but no byte goes through, like a
      // database host whose processes are stopped (SIGSTOP) without closing
      // anything. As TCP would, the bytes wait and arrive once it thaws:
      // dropping them would leave each connection waiting for an answer to
      // a query the server never saw, which no real outage does.
      let frozen = false
      const held: Array<() => void> = []
      const start = () =>
        new Promise<void>((resolve) => {
          server = createServer((client) => {
            const upstream = connect(Number(target.port || 5432), target.hostname)
            sockets.add(client)
            sockets.add(upstream)
            const pass = (to: Socket) => (chunk: Buffer) => {
              if (frozen) held.push(() => to.write(chunk))
              else to.write(chunk)
            }
            client.on("data", pass(upstream))
            upstream.on("data", pass(client))
            const drop = () => {
              client.destroy()
              upstream.destroy()
              sockets.delete(client)
              sockets.delete(upstream)
            }
            client.on("error", drop).on("close", drop)
            upstream.on("error", drop).on("close", drop)
          })
          server.listen(port, "127.0.0.1", () => {
            port = (server!.address() as { port: number }).port
            resolve()
          })
        })
      const stop = () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy()
          sockets.clear()
          server?.close(() => resolve())
        })
      await start()
      return {
        port: () => port,
        start,
        stop,
        freeze: (on: boolean) => {
          frozen = on
          if (!on) for (const write of held.splice(0)) write()
        }
      }
    }),
    (proxy) => Effect.promise(() => proxy.stop())
  )

/** The receiver, in this process, on PostgreSQL reached through a proxy the test controls. */
export const receiverBehindProxy = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
    const proxy = yield* makeProxy(new URL(url))
    const viaProxy = new URL(url)
    viaProxy.port = String(proxy.port())
    const settings = testEnv({ DATABASE_POOL_SIZE: "4", ...env })
    const context = yield* Layer.build(
      makeReceiver(
        Database.layerPostgres(viaProxy.toString(), {
          poolSize: 4,
          timeoutMs: Number(settings.DATABASE_TIMEOUT_MS ?? 5000)
        })
      ).pipe(Layer.provide(ReceiverConfig.fromRecord(settings)))
    )
    const server = yield* Effect.provide(HttpServer.HttpServer, context)
    const { sql } = yield* Effect.provide(Database, context)
    const port = NetAddress.isInetAddress(server.address) ? server.address.port : 0
    return { proxy, sql, baseUrl: `http://127.0.0.1:${port}` }
  })
