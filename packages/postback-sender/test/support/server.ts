import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

/** A request as the test server received it. */
export interface Received {
  readonly method: string
  /** Path and query, exactly as sent. */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  /** The raw body. */
  readonly body: string
}

/** How the server answers a request: a status and body, after an optional delay, or never. */
export type Reply =
  | { readonly status: number; readonly body?: string; readonly delayMs?: number }
  | "hang"

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  readonly received: ReadonlyArray<Received>
  readonly close: () => Promise<void>
}

/** A real HTTP server on a free port that records every request and answers with `reply`. */
export const startServer = (
  reply: (request: Received, index: number) => Reply = () => ({ status: 200, body: "OK" })
): Promise<TestServer> => {
  const received: Array<Received> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const request: Received = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8")
      }
      const index = received.push(request) - 1
      const answer = reply(request, index)
      if (answer === "hang") return
      const send = () => {
        res.statusCode = answer.status
        res.end(answer.body ?? "")
      }
      if (answer.delayMs === undefined) send()
      else setTimeout(send, answer.delayMs)
    })
  })
  server.keepAliveTimeout = 60_000
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        origin: `http://127.0.0.1:${port}`,
        received,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}

/** {@link startServer} as a scoped resource. */
export const testServer = (
  reply?: (request: Received, index: number) => Reply
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startServer(reply)),
    (server) => Effect.promise(() => server.close())
  )

/** Waits (in real time) until `check` holds: the server runs outside any TestClock. */
export const eventually = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
