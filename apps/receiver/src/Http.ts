import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { HttpApiBuilder, type HttpApp, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
import { PostbacksLive } from "./Admin/Postbacks.ts"
import { AdminAuthLive, HealthLive, MetricsLive, UsersLive } from "./Admin/Users.ts"
import { ReceiverApi } from "./Api.ts"
import { ReceiverConfig } from "./Config.ts"
import type { Database } from "./Db/Database.ts"
import { IngestEdge } from "./Ingest/Edge.ts"
import { INGEST_PATH } from "./Ingest/Route.ts"
import type { Secrets } from "./Secrets.ts"
import type { WakeSignal } from "./Worker/WakeSignal.ts"

const isIngest = (url: string | undefined): boolean => {
  if (url === undefined || !url.startsWith(INGEST_PATH)) return false
  const rest = url.charCodeAt(INGEST_PATH.length)
  // "/postbacks", "/postbacks?...", "/postbacks/" and "/postbacks/?..."
  return (
    Number.isNaN(rest) ||
    rest === 63 ||
    (rest === 47 &&
      (url.length === INGEST_PATH.length + 1 || url.charCodeAt(INGEST_PATH.length + 1) === 63))
  )
}

/**
 * The HTTP server: one `node:http` server whose requests go to the ingest
 * edge for `/postbacks` and to the Effect `HttpApi` app for everything else.
 *
 * Shutdown: the server stops accepting connections, in-flight requests
 * (including ingest requests waiting for their batch to commit) finish
 * within `SHUTDOWN_GRACE_MS`, idle keep-alive connections are closed, and
 * only then are the layers this one depends on (batcher, database) released.
 */
export const ServerLive: Layer.Layer<HttpServer.HttpServer, never, ReceiverConfig | IngestEdge> =
  Layer.scoped(
    HttpServer.HttpServer,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const edge = yield* IngestEdge
      let app: ((request: IncomingMessage, response: ServerResponse) => void) | undefined
      const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
        if (isIngest(request.url)) edge.handle(request, response)
        else if (app !== undefined) app(request, response)
        else {
          response.writeHead(503).end()
        }
      })
      yield* Effect.async<void, never>((resume) => {
        server.listen({ port: config.port, host: config.host }, () => resume(Effect.void))
        server.once("error", (error) => resume(Effect.die(error)))
      })
      yield* Effect.addFinalizer(() =>
        Effect.async<void>((resume) => {
          edge.drain()
          const force = setTimeout(
            () => server.closeAllConnections(),
            Duration.toMillis(config.shutdownGrace)
          )
          server.close(() => {
            clearTimeout(force)
            resume(Effect.void)
          })
          server.closeIdleConnections()
        }).pipe(Effect.zipRight(Effect.logInfo("HTTP server closed")))
      )
      const address = server.address() as AddressInfo
      return HttpServer.make({
        address: { _tag: "TcpAddress", hostname: address.address, port: address.port },
        serve: (httpApp, middleware) =>
          Effect.gen(function* () {
            app = yield* middleware === undefined
              ? NodeHttpServer.makeHandler(httpApp as HttpApp.Default)
              : NodeHttpServer.makeHandler(httpApp as HttpApp.Default, middleware as never)
          })
      })
    })
  )

/** The admin and health API, served by `ServerLive`. */
export const ApiLive = HttpApiBuilder.api(ReceiverApi).pipe(
  Layer.provide([HealthLive, MetricsLive, UsersLive, PostbacksLive]),
  Layer.provide(AdminAuthLive)
)

/** The Effect side of the server: admin API, health probes and the OpenAPI document. */
export const HttpAppLive: Layer.Layer<
  never,
  never,
  HttpServer.HttpServer | Database | Secrets | WakeSignal
> = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/api/openapi.json" })),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress,
  Layer.provide(NodeHttpServer.layerContext)
)
