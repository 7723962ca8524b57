import { HttpClient } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AppLive } from "../src/Http.ts"

const TestServer = AppLive.pipe(Layer.provideMerge(NodeHttpServer.layerTest))

describe("Http", () => {
  it.layer(TestServer)((it) => {
    it.effect("GET /healthz answers 200 ok", () =>
      Effect.gen(function* () {
        const response = yield* HttpClient.get("/healthz")
        expect(response.status).toBe(200)
        expect(yield* response.json).toEqual({ status: "ok" })
      })
    )

    it.effect("an unknown route answers 404", () =>
      Effect.gen(function* () {
        const response = yield* HttpClient.get("/nope")
        expect(response.status).toBe(404)
      })
    )
  })
})
