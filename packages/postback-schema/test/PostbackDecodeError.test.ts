import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
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

  it("carries @effect/platform's HTTP status annotation (400)", () => {
    // Read the way HttpApiSchema.getStatus reads it: a class's own and its type side's annotations.
    const ast = PostbackDecodeError.ast
    const annotations =
      ast._tag === "Transformation"
        ? { ...ast.to.annotations, ...ast.annotations }
        : ast.annotations
    expect(annotations[Symbol.for("@effect/platform/HttpApiSchema/AnnotationStatus")]).toBe(400)
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
