import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

/** One request a test consumer received. */
export interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/**
 * How the consumer answers the n-th request (0-based): a status (and
 * headers), or `"hang"` to never answer (the request stays open until the
 * server closes).
 */
export type Answer = { readonly status: number; readonly headers?: Record<string, string> } | "hang"

/**
 * A real HTTP consumer on 127.0.0.1 (a free port): records every request
 * and answers as `answer` says (200 by default). Closed with its scope.
 */
export const startConsumer = (
  answer: (request: Received, index: number) => Answer = () => ({ status: 200 })
): Effect.Effect<
  {
    readonly url: string
    readonly received: Array<Received>
    /** Resolves when the consumer has received `count` requests in all. */
    readonly receivedAtLeast: (count: number) => Effect.Effect<void>
  },
  never,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const received: Array<Received> = []
      const waiters: Array<{ count: number; done: () => void }> = []
      const hanging: Array<ServerResponse> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const request = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") }
          const index = received.length
          received.push(request)
          for (const waiter of waiters.filter((w) => received.length >= w.count)) {
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.done()
          }
          const reply = answer(request, index)
          if (reply === "hang") {
            hanging.push(res)
            return
          }
          res.writeHead(reply.status, reply.headers ?? {})
          res.end("ok")
        })
      })
      await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
      const { port } = server.address() as AddressInfo
      return {
        server,
        hanging,
        url: `http://127.0.0.1:${port}/events`,
        received,
        receivedAtLeast: (count: number) =>
          Effect.promise(
            () =>
              new Promise<void>((done) => {
                if (received.length >= count) done()
                else waiters.push({ count, done })
              })
          )
      }
    }),
    ({ server, hanging }) =>
      Effect.promise(
        () =>
          new Promise<void>((done) => {
            for (const res of hanging) res.destroy()
            server.closeAllConnections()
            server.close(() => done())
          })
      )
  ).pipe(Effect.map(({ url, received, receivedAtLeast }) => ({ url, received, receivedAtLeast })))
