// The examples as the README shows them: each is run (but Bun's), over HTTP
// where it serves, with the docs' postback; the Web-only ones are also
// type-checked without Node's types.
import { once } from "node:events"
import { readdirSync, readFileSync } from "node:fs"
import type { Server } from "node:http"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it, vi } from "@effect/vitest"
import ts from "typescript"
import { DELIVERY_CASES, FIXTURE_SECRET } from "./fixtures/deliveries.ts"
import { type Sent, sendHttp, sendingOf } from "./support/table.ts"

const docsPost = DELIVERY_CASES.find((c) => c.name === "the docs' POST JSON body")!
const docsGet = DELIVERY_CASES.find((c) => c.name === "the docs' GET")!
const noSecret = DELIVERY_CASES.find((c) => c.name === "no secret")!

const examples = fileURLToPath(new URL("../examples/", import.meta.url))

let logged: ReturnType<typeof spyOnLog>
const spyOnLog = () => vi.spyOn(console, "log").mockImplementation(() => undefined)
beforeAll(() => {
  process.env.POSTBACK_SECRET = FIXTURE_SECRET
  process.env.PORT = "0"
  logged = spyOnLog()
})
afterAll(() => {
  logged.mockRestore()
})

/** The docs' postback (POST and GET) is stored, a caller without the secret is not. */
const expectServes = async (send: (c: typeof docsPost) => Promise<Sent>): Promise<void> => {
  logged.mockClear()
  const post = await send(docsPost)
  expect(post.status).toBe(200)
  const { identity } = JSON.parse(post.body) as { identity: string }
  expect((await send(docsGet)).status).toBe(200)
  expect((await send(noSecret)).status).toBe(401)
  expect(logged.mock.calls).toEqual([
    ["accepted", identity, "1511", "2.10"],
    ["accepted", identity, "1511", "2.10"]
  ])
}

const over = (origin: string) => async (c: typeof docsPost) => sendHttp(origin)(await sendingOf(c))

const originOf = async (server: Server): Promise<string> => {
  if (!server.listening) await once(server, "listening")
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  return `http://127.0.0.1:${address.port}`
}

const closing = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

const direct =
  (handler: (request: Request) => Promise<Response> | Response) =>
  async (c: typeof docsPost): Promise<Sent> => {
    const { method, target, headers, body } = await sendingOf(c)
    const response = await handler(
      new Request(`http://127.0.0.1${target}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: body as Uint8Array<ArrayBuffer> })
      })
    )
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: await response.text()
    }
  }

describe("the examples", () => {
  it("express.ts", async () => {
    const { server } = await import("../examples/express.ts")
    try {
      await expectServes(over(await originOf(server)))
    } finally {
      await closing(server)
    }
  })

  it("fastify.ts", async () => {
    const { app } = await import("../examples/fastify.ts")
    try {
      await expectServes(over(await originOf(app.server)))
    } finally {
      await app.close()
    }
  })

  it("hono.ts", async () => {
    const { server } = await import("../examples/hono.ts")
    try {
      await expectServes(over(await originOf(server as Server)))
    } finally {
      await closing(server as Server)
    }
  })

  it("next-app-route.ts: GET, HEAD and POST", async () => {
    const route = await import("../examples/next-app-route.ts")
    expect(route.GET).toBe(route.POST)
    expect(route.HEAD).toBe(route.POST)
    await expectServes(direct(route.POST))
    const head = await route.HEAD(
      new Request(`http://127.0.0.1/postbacks?secret=${FIXTURE_SECRET}`, { method: "HEAD" })
    )
    expect(head.status).toBe(200)
  })

  it("cloudflare-worker.ts, with the secret from its binding", async () => {
    const worker = (await import("../examples/cloudflare-worker.ts")).default
    const env = { POSTBACK_SECRET: FIXTURE_SECRET }
    await expectServes(direct((request) => worker.fetch(request, env)))
    expect((await worker.fetch(new Request("http://127.0.0.1/other"), env)).status).toBe(404)
  })

  it("bun-serve.ts and cloudflare-worker.ts type-check with Web types only (no Node types)", () => {
    const check = (files: ReadonlyArray<string>): Array<string> => {
      const config = ts.getParsedCommandLineOfConfigFile(
        fileURLToPath(new URL("../tsconfig.json", import.meta.url)),
        { types: [], noEmit: true },
        { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined }
      )
      if (config === undefined) throw new Error("no tsconfig.json")
      const program = ts.createProgram(
        files.map((f) => `${examples}${f}`),
        config.options
      )
      return ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    }
    expect(check(["bun-serve.ts", "cloudflare-worker.ts"])).toEqual([])
    // The same check sees a Node global: Next.js projects have @types/node for `process`.
    expect(check(["next-app-route.ts"])).toEqual([expect.stringContaining("'process'")])
  }, 300_000) // two TypeScript programs: minutes on a busy machine

  it("the README shows every example file as it is", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const files = readdirSync(examples).filter((f) => f.endsWith(".ts"))
    expect(files.sort()).toEqual([
      "bun-serve.ts",
      "cloudflare-worker.ts",
      "deno-serve.ts",
      "express.ts",
      "fastify.ts",
      "hono.ts",
      "next-app-route.ts",
      "postgres.ts"
    ])
    for (const file of files) {
      const text = readFileSync(`${examples}${file}`, "utf8").trimEnd()
      expect(readme, file).toContain(`\`\`\`ts\n// examples/${file}\n${text}\n\`\`\``)
    }
  })
})
