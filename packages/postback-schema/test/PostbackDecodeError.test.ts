import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import {
  formatIssuePath,
  formatPostbackIssues,
  PostbackDecodeError,
  parsePostbackJson,
  postbackErrorJson
} from "../src/index.ts"

const issues = [
  { path: "payout", message: 'expected a decimal string like "2.10", got "abc"' },
  { path: "payload.user_id", message: "expected a string, got null" }
]

describe("formatPostbackIssues", () => {
  it("gives one line of path: message pairs", () => {
    expect(formatPostbackIssues(issues)).toBe(
      'payout: expected a decimal string like "2.10", got "abc"; payload.user_id: expected a string, got null'
    )
    expect(
      formatPostbackIssues([{ path: "", message: "expected a GET or POST request, got PUT" }])
    ).toBe("expected a GET or POST request, got PUT")
  })

  it("shows five problems and counts the rest", () => {
    const many = Array.from({ length: 8 }, (_, i) => ({ path: `payload.k${i}`, message: "bad" }))
    expect(formatPostbackIssues(many)).toBe(
      "payload.k0: bad; payload.k1: bad; payload.k2: bad; payload.k3: bad; payload.k4: bad (and 3 more)"
    )
  })
})

describe("postbackErrorJson", () => {
  it("is the HTTP 400 body: the summary and every problem", () => {
    const result = parsePostbackJson({ offer_id: "1511", payout: "abc" })
    if (result.ok) throw new Error("expected problems")
    const body = postbackErrorJson(result.errors)
    expect(body).toEqual({
      error: "invalid_postback",
      message: formatPostbackIssues(result.errors),
      issues: result.errors
    })
    expect(JSON.parse(JSON.stringify(body))).toEqual(body)
  })
})

describe("PostbackDecodeError", () => {
  it("carries its issues and their summary", () => {
    const error = PostbackDecodeError.fromIssues(issues)
    expect(error).toBeInstanceOf(Error)
    expect(error._tag).toBe("PostbackDecodeError")
    expect(error.message).toBe(formatPostbackIssues(issues))
    expect(error.issues).toEqual(issues)
  })

  it("needs at least one issue", () => {
    expect(() => PostbackDecodeError.fromIssues([])).toThrow(RangeError)
  })

  it("encodes to a JSON body and decodes back", () => {
    const error = PostbackDecodeError.fromIssues(issues)
    const encoded = Schema.encodeSync(PostbackDecodeError)(error)
    expect(encoded).toEqual({ _tag: "PostbackDecodeError", message: error.message, issues })
    expect(Schema.decodeUnknownSync(PostbackDecodeError)(encoded).issues).toEqual(issues)
  })

  it("answers 400 with its JSON body from an effect/http-api endpoint (httpApiStatus)", async () => {
    const error = PostbackDecodeError.fromIssues(issues)
    class Api extends HttpApi.make("api").add(
      HttpApiGroup.make("postbacks").add(
        HttpApiEndpoint.post("ingest", "/postbacks", { error: PostbackDecodeError })
      )
    ) {}
    const Handlers = HttpApiBuilder.group(Api, "postbacks", (handlers) =>
      handlers.handle("ingest", () => Effect.fail(error))
    )
    const { handler, dispose } = HttpRouter.toWebHandler(
      HttpApiBuilder.layer(Api).pipe(
        Layer.provide(Handlers),
        Layer.provide(HttpServer.layerServices)
      ),
      { disableLogger: true }
    )
    try {
      const response = await handler(new Request("http://localhost/postbacks", { method: "POST" }))
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({
        _tag: "PostbackDecodeError",
        message: error.message,
        issues
      })
    } finally {
      await dispose()
    }
  })
})

describe("formatIssuePath", () => {
  it.each([
    [[], ""],
    [["payout"], "payout"],
    [["payload", "user_id"], "payload.user_id"],
    [["payload", "sub-id"], "payload.sub-id"],
    [["payload", "a.b"], 'payload["a.b"]'],
    [["payload", ""], 'payload[""]'],
    [["payload", 'q"'], 'payload["q\\""]']
  ])("writes %j as %s", (path, text) => {
    expect(formatIssuePath(path)).toBe(text)
  })
})
