import { createServer } from "node:http"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Config, Layer } from "effect"

/** The receiver's routes. */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/healthz", HttpServerResponse.json({ status: "ok" }))
)

/** The routes served by whatever HTTP server is provided. */
export const AppLive = HttpServer.serve(router).pipe(HttpServer.withLogAddress)

/** The Node HTTP server on `HOST`:`PORT` (default 0.0.0.0:3000). */
export const ServerLive = NodeHttpServer.layerConfig(createServer, {
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
})

export const HttpLive = AppLive.pipe(Layer.provide(ServerLive))
