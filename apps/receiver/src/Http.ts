import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { NodeHttpServer } from "@effect/platform-node"
import { errorAnswer } from "@org/postback-handler"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { NetAddress } from "effect/net"
import { withJsonNotFound } from "./Admin/NotFound.ts"
import { AdminRoutesLive } from "./Admin/Routes.ts"
import { ReceiverApi } from "./Api.ts"
import { ReceiverConfig } from "./Config.ts"
import type { Database } from "./Db/Database.ts"
import { IngestEdge } from "./Ingest/Edge.ts"
import type { IngestCore } from "./Ingest/Ingest.ts"
import { INGEST_PATH } from "./Ingest/Route.ts"
import { PageLive } from "./Page.ts"
import type { Secrets } from "./Secrets.ts"
import type { Spool } from "./Spool/Spool.ts"
import type { WakeSignal } from "./WakeSignal.ts"

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
 * only then are the layers this one depends on (group commit, database)
 * released.
 */
export const ServerLive: Layer.Layer<HttpServer.HttpServer, never, ReceiverConfig | IngestEdge> =
  Layer.effect(
    HttpServer.HttpServer,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const edge = yield* IngestEdge
      let app: ((request: IncomingMessage, response: ServerResponse) => void) | undefined
      // Headers may take twice the largest query a GET postback may carry
      // (MAX_QUERY_BYTES): past the query limit the edge answers 414 with
      // its JSON; past this one Node stops parsing, and `clientError`
      // answers 431 in the same JSON shape.
      const server = createServer(
        { keepAliveTimeout: 65_000, maxHeaderSize: 2 * config.maxQueryBytes },
        (request, response) => {
          if (isIngest(request.url)) edge.handle(request, response)
          else if (app !== undefined) app(request, response)
          else {
            response.writeHead(503).end()
          }
        }
      )
      // A request Node's parser refuses never reaches a handler: it is
      // answered here, still in the one JSON error shape, and the
      // connection closed (its framing can no longer be trusted).
      server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
        if (!socket.writable) return socket.destroy()
        const [status, reason, body] =
          error.code === "HPE_HEADER_OVERFLOW"
            ? ([
                431,
                "Request Header Fields Too Large",
                errorAnswer(
                  431,
                  `the request line and headers are larger than ${2 * config.maxQueryBytes} bytes; send a large postback as a POST body`
                ).body
              ] as const)
            : ([
                400,
                "Bad Request",
                JSON.stringify({
                  error: "invalid_request",
                  message: `the request is not valid HTTP/1.1 (${error.code ?? "parse error"}): ${error.message}`
                })
              ] as const)
        socket.end(
          `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
        )
      })
      yield* Effect.callback<void>((resume) => {
        server.listen({ port: config.port, host: config.host }, () => resume(Effect.void))
        server.once("error", (error) => resume(Effect.die(error)))
      })
      // The admin API's request fibers live until the server has closed, so
      // requests in flight at shutdown finish like ingest requests do.
      const requests = yield* Scope.make("parallel")
      yield* Effect.addFinalizer(() =>
        Effect.callback<void>((resume) => {
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
        }).pipe(
          Effect.andThen(Scope.close(requests, Exit.void)),
          Effect.andThen(Effect.logInfo("HTTP server closed"))
        )
      )
      const address = server.address() as AddressInfo
      return HttpServer.make({
        address: NetAddress.inetAddressFromIpStringUnsafe(address.address, address.port),
        serve: (httpEffect, middleware) =>
          Effect.gen(function* () {
            app = yield* NodeHttpServer.makeHandler(withJsonNotFound(httpEffect), {
              scope: requests,
              middleware: middleware as never
            })
          })
      })
    })
  )

/** The admin and health API with the OpenAPI document, served by `ServerLive`. */
export const ApiLive = HttpApiBuilder.layer(ReceiverApi, { openapiPath: "/api/openapi.json" }).pipe(
  Layer.provide(AdminRoutesLive)
)

/**
 * The Effect side of the server: admin API, health probes, the OpenAPI
 * document and the operator console page (`/`, `/assets/*`, see `Page.ts`).
 * Its requests are not logged one by one (the ingest edge writes its own
 * delivery log); the address is logged once it listens.
 */
export const HttpAppLive: Layer.Layer<
  never,
  never,
  HttpServer.HttpServer | Database | Secrets | WakeSignal | ReceiverConfig | IngestCore | Spool
> = HttpRouter.serve(Layer.mergeAll(ApiLive, PageLive), { disableLogger: true }).pipe(
  Layer.provide(NodeHttpServer.layerHttpServices)
)
