// Every route of the receiver's API document refuses a request without the
// admin token and one with a wrong token: 401 in the API's error shape. The
// routes are read from the served OpenAPI document (generated from
// `ReceiverApi`), so a route added without the token check fails here; only
// the probes and the ingest route (its own secret) are public.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

/** Routes that answer without the admin token, on purpose. */
const PUBLIC = new Set(["GET /healthz", "GET /readyz"])
/** The ingest route: authenticated by the postback secret (tested with the ingest edge). */
const INGEST = "/postbacks"

const METHODS = ["get", "post", "put", "patch", "delete"] as const

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document, read by path
type Json = any

/** A concrete URL path for an OpenAPI path template (`/api/postbacks/{id}`). */
const concrete = (template: string): string =>
  template.replace(/\{([^}]+)\}/g, (_, name: string) => (name === "userId" ? "nobody" : "1"))

layer(testReceiver(testDatabases[0]!, { WORKER_ENABLED: "false" }), {
  timeout: 120_000,
  excludeTestServices: true
})("admin routes", (it) => {
  it.effect(
    "every route in the API document needs the token: 401 without it and with a wrong one",
    () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const spec = yield* Effect.promise(async () => {
          const response = await fetch(`${receiver.baseUrl}/api/openapi.json`)
          return (await response.json()) as Json
        })
        const routes: Array<{ method: string; path: string }> = []
        for (const [path, item] of Object.entries(spec.paths as Record<string, Json>)) {
          if (path === INGEST) continue
          for (const method of METHODS) {
            if (item[method] === undefined) continue
            if (PUBLIC.has(`${method.toUpperCase()} ${path}`)) continue
            routes.push({ method: method.toUpperCase(), path })
          }
        }
        // the document lists the console's routes: a sanity check that the enumeration sees them
        const names = routes.map((r) => `${r.method} ${r.path}`)
        for (const expected of [
          "GET /api/postbacks",
          "GET /api/postbacks/summary",
          "GET /api/postbacks/series",
          "GET /api/postbacks/export.csv",
          "GET /api/postbacks/{id}",
          "GET /api/users",
          "GET /api/users/{userId}",
          "GET /api/users/{userId}/transactions",
          "GET /metrics"
        ]) {
          expect(names).toContain(expected)
        }
        for (const route of routes) {
          // none, a wrong token, and the right token without the Bearer scheme
          for (const authorization of [
            undefined,
            "Bearer wrong-token-0123456789abcdef",
            TEST_ADMIN_TOKEN
          ]) {
            const headers: Record<string, string> = { "content-type": "application/json" }
            if (authorization !== undefined) headers.authorization = authorization
            const response = yield* Effect.promise(async () => {
              const r = await fetch(`${receiver.baseUrl}${concrete(route.path)}`, {
                method: route.method,
                headers,
                ...(route.method === "GET" ? {} : { body: "{}" })
              })
              return { status: r.status, text: await r.text() }
            })
            const label = `${route.method} ${route.path} (${authorization ?? "no token"})`
            expect(response.status, label).toBe(401)
            const body = JSON.parse(response.text) as Json
            expect(Object.keys(body).sort(), label).toEqual(["error", "message"])
            expect(body.error, label).toBe("unauthorized")
          }
        }
        expect(routes.length).toBeGreaterThanOrEqual(15)
      })
  )
})
