// What Node's HTTP parser refuses never reaches a handler; the server still
// answers it in the one JSON error shape, over a raw socket.
import { connect } from "node:net"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { TestReceiver, testReceiver } from "./support/receiver.ts"

/** Writes `raw` to the receiver and reads until it closes the connection. */
const exchange = (baseUrl: string, raw: string) =>
  Effect.promise(
    () =>
      new Promise<string>((resolve, reject) => {
        const { hostname, port } = new URL(baseUrl)
        const socket = connect({ host: hostname, port: Number(port) }, () => socket.end(raw))
        let text = ""
        socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")))
        socket.on("close", () => resolve(text))
        socket.on("error", reject)
      })
  )

const parse = (response: string) => {
  const [head, body = ""] = response.split("\r\n\r\n")
  const [statusLine, ...headers] = head!.split("\r\n")
  return {
    status: Number(statusLine!.split(" ")[1]),
    contentType: headers.find((h) => h.toLowerCase().startsWith("content-type:")),
    body: JSON.parse(body) as { error: string; message: string }
  }
}

layer(testReceiver(testDatabases[0]!, { MAX_QUERY_BYTES: "1024" }), { timeout: 120_000 })(
  "requests the HTTP parser refuses",
  (it) => {
    it.effect("malformed request lines get 400 with the JSON error shape", () =>
      Effect.gen(function* () {
        const { baseUrl } = yield* TestReceiver
        for (const raw of [
          "NOPE /postbacks HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET postbacks HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET /postbacks HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
          "\u0000\u0001\u0002 garbage\r\n\r\n"
        ]) {
          const answer = parse(yield* exchange(baseUrl, raw))
          expect(answer.status, JSON.stringify(raw)).toBe(400)
          expect(answer.contentType).toMatch(/application\/json/)
          expect(answer.body.error).toBe("invalid_request")
          expect(answer.body.message).toContain("not valid HTTP/1.1")
        }
      })
    )

    it.effect("headers past twice MAX_QUERY_BYTES get 431 with the JSON error shape", () =>
      Effect.gen(function* () {
        const { baseUrl } = yield* TestReceiver
        const answer = parse(
          yield* exchange(
            baseUrl,
            `GET /postbacks HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(4096)}\r\n\r\n`
          )
        )
        expect(answer.status).toBe(431)
        expect(answer.contentType).toMatch(/application\/json/)
        expect(answer.body.error).toBe("request_header_fields_too_large")
      })
    )
  }
)
