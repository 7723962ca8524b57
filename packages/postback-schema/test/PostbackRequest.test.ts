import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as fc from "fast-check"
import {
  decodeRequest,
  makePostbackParser,
  PostbackDecodeError,
  type PostbackResult,
  parsePostbackRequest,
  postbackParserFor
} from "../src/index.ts"
import { docsGetUrl, docsPostback } from "./arbitraries.ts"

const URL_BASE = "https://publisher.example/postbacks"

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request(URL_BASE, { method: "POST", body, headers })

const json = (value: unknown) =>
  post(JSON.stringify(value), { "content-type": "application/json; charset=utf-8" })

const errorsOf = (result: PostbackResult) => (result.ok ? [] : result.errors)

/** A body that arrives in chunks, as from a slow client; counts what was pulled. */
const streamed = (chunks: ReadonlyArray<string>) => {
  const encoder = new TextEncoder()
  let pulled = 0
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[pulled]
      if (chunk === undefined) controller.close()
      else {
        pulled++
        controller.enqueue(encoder.encode(chunk))
      }
    }
  })
  return { body, pulled: () => pulled }
}

describe("decodeRequest", () => {
  it.effect("decodes a GET query, without the excluded secret", () =>
    Effect.gen(function* () {
      const request = new Request(`${docsGetUrl}&secret=s3cr3t`)
      const postback = yield* decodeRequest(request, { exclude: ["secret"] })
      expect(postback.payout.toString()).toBe("2.10")
      expect(postback.payload).toEqual({ user_id: "3410444" })
    })
  )

  it.effect("decodes a POST JSON body", () =>
    Effect.gen(function* () {
      const postback = yield* decodeRequest(json(docsPostback))
      expect(postback.offerId).toBe("1511")
      expect(postback.payload).toEqual(docsPostback.payload)
    })
  )

  it.effect("decodes a form body like a GET query", () =>
    Effect.gen(function* () {
      const form = new URL(docsGetUrl).searchParams
      form.append("secret", "s3cr3t")
      const postback = yield* decodeRequest(
        post(form.toString(), { "content-type": "application/x-www-form-urlencoded" }),
        { exclude: ["secret"] }
      )
      expect(postback.payload).toEqual({ user_id: "3410444" })
      // A URLSearchParams body sets the content type itself.
      const again = yield* decodeRequest(post(form), { exclude: ["secret"] })
      expect(again.offerId).toBe("1511")
    })
  )

  it.effect("reads a body without content type as JSON when it starts with {", () =>
    Effect.gen(function* () {
      const request = post(new TextEncoder().encode(JSON.stringify(docsPostback)))
      expect(request.headers.get("content-type")).toBeNull()
      const postback = yield* decodeRequest(request)
      expect(postback.offerId).toBe("1511")
    })
  )

  it.effect("fails with every problem as a PostbackDecodeError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        decodeRequest(json({ ...docsPostback, payout: "abc", timestamp: "" }))
      )
      expect(error).toBeInstanceOf(PostbackDecodeError)
      expect(error._tag).toBe("PostbackDecodeError")
      expect(error.issues.map((issue) => issue.path)).toEqual(["payout", "timestamp"])
      expect(error.message).toMatch(
        /^payout: expected a decimal string like "2\.10", got "abc"; timestamp: /
      )
    })
  )

  it.effect("can be handled by its tag", () =>
    Effect.gen(function* () {
      const status = yield* decodeRequest(json({})).pipe(
        Effect.as(200),
        Effect.catchTag("PostbackDecodeError", () => Effect.succeed(400))
      )
      expect(status).toBe(400)
    })
  )

  it.effect("reads the body by its content, whatever the header says (bodyForm)", () =>
    Effect.gen(function* () {
      const underXml = yield* decodeRequest(
        post(JSON.stringify(docsPostback), { "content-type": "text/xml" })
      )
      expect(underXml.offerId).toBe("1511")
      const form = new URL(docsGetUrl).searchParams.toString()
      for (const type of [{}, { "content-type": "text/plain" }]) {
        const asForm = yield* decodeRequest(post(form, type))
        expect(asForm.payload).toEqual({ user_id: "3410444" })
      }
    })
  )

  it.effect("drops a byte order mark and undoes gzip", () =>
    Effect.gen(function* () {
      const text = new TextEncoder().encode(JSON.stringify(docsPostback))
      const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...text])
      const bom = yield* decodeRequest(post(withBom, { "content-type": "application/json" }))
      expect(bom.offerId).toBe("1511")
      const gzipped = yield* Effect.promise(() =>
        new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).bytes()
      )
      const gzip = yield* decodeRequest(
        post(gzipped, { "content-type": "application/json", "content-encoding": "gzip" })
      )
      expect(gzip.payout.toString()).toBe("2.10")
      const wrong = yield* Effect.flip(
        decodeRequest(
          post(text, { "content-type": "application/json", "content-encoding": "gzip" })
        )
      )
      expect(wrong.message).toBe("the request body is not valid gzip data (Content-Encoding: gzip)")
      const unknown = yield* Effect.flip(decodeRequest(post(text, { "content-encoding": "zstd" })))
      expect(unknown.message).toMatch(/the Content-Encoding "zstd" is not supported/)
    })
  )

  const refusals: ReadonlyArray<readonly [string, () => Request, RegExp]> = [
    [
      "a PUT",
      () => new Request(URL_BASE, { method: "PUT", body: "{}" }),
      /^expected a GET or POST request, got PUT$/
    ],
    [
      "a multipart body",
      () => post("--x\r\n\r\n--x--", { "content-type": "multipart/form-data; boundary=x" }),
      /multipart\/form-data bodies are not read/
    ],
    [
      "invalid JSON",
      () => post("{oops", { "content-type": "application/json" }),
      /^the request body is not valid JSON: /
    ],
    [
      "an empty JSON body",
      () => post("", { "content-type": "application/json" }),
      /^the request body is empty/
    ],
    [
      "invalid UTF-8",
      () => post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), { "content-type": "application/json" }),
      /^the request body is not valid UTF-8$/
    ],
    [
      "a declared length over the limit",
      () => post("{}", { "content-type": "application/json", "content-length": "70000" }),
      /has 70000 bytes, more than the limit of 65536/
    ]
  ]

  for (const [what, request, message] of refusals) {
    it.effect(`refuses ${what}`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(decodeRequest(request()))
        expect(error.issues).toHaveLength(1)
        expect(error.issues[0]!.path).toBe("")
        expect(error.issues[0]!.message).toMatch(message)
      })
    )
  }

  it.effect("stops reading a streamed body once it passes the limit", () =>
    Effect.gen(function* () {
      const chunk = "x".repeat(1000)
      const source = streamed(Array.from({ length: 100 }, () => chunk))
      const request = new Request(URL_BASE, {
        method: "POST",
        body: source.body,
        headers: { "content-type": "application/json" },
        duplex: "half"
      } as RequestInit)
      const exit = yield* Effect.exit(decodeRequest(request, { maxBodyBytes: 5000 }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(exit)).toMatch(/more than 5000 bytes/)
      expect(source.pulled()).toBeLessThan(10)
    })
  )

  it.effect("refuses a body that was already read", () =>
    Effect.gen(function* () {
      const request = json(docsPostback)
      yield* Effect.promise(() => request.text())
      const error = yield* Effect.flip(decodeRequest(request))
      expect(error.message).toBe("the request body was already read")
    })
  )
})

describe("decodeRequest with junk", () => {
  const requestArb = fc.record({
    method: fc.constantFrom("GET", "POST", "PUT", "HEAD"),
    contentType: fc.option(
      fc.constantFrom(
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/merge-patch+json",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1"
      ),
      { nil: undefined }
    ),
    query: fc.string({ unit: "binary", maxLength: 60 }),
    body: fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.json(),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => new TextDecoder().decode(bytes))
    )
  })

  it("never dies: a postback or a PostbackDecodeError", async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, ({ method, contentType, query, body }) =>
        Effect.runPromise(
          Effect.gen(function* () {
            const request = new Request(`${URL_BASE}?${encodeURI(query)}`, {
              method,
              ...(method === "GET" || method === "HEAD" ? {} : { body }),
              headers: contentType === undefined ? {} : { "content-type": contentType }
            })
            const exit = yield* Effect.exit(decodeRequest(request, { exclude: ["secret"] }))
            if (Exit.isFailure(exit)) {
              expect(exit.cause.reasons).toHaveLength(1)
              const [reason] = exit.cause.reasons
              expect(reason?._tag).toBe("Fail")
              if (reason !== undefined && Cause.isFailReason(reason))
                expect(reason.error).toBeInstanceOf(PostbackDecodeError)
            }
          })
        )
      ),
      { numRuns: 300 }
    )
  })
})

describe("parsePostbackRequest", () => {
  it("resolves to the postback or the problems, never rejecting", async () => {
    const ok = await parsePostbackRequest(json(docsPostback))
    expect(ok.ok && ok.postback.offerId).toBe("1511")
    const bad = await parsePostbackRequest(new Request(URL_BASE, { method: "DELETE" }))
    expect(errorsOf(bad)).toEqual([
      { path: "", message: "expected a GET or POST request, got DELETE" }
    ])
    const missing = await parsePostbackRequest(new Request(`${URL_BASE}?payout=1`))
    expect(errorsOf(missing).map((e) => e.path)).toEqual([
      "offer_id",
      "timestamp",
      "is_loyaltyboost"
    ])
  })

  it("caches parsers by the options' content", () => {
    expect(postbackParserFor({ exclude: ["secret"] })).toBe(
      postbackParserFor({ exclude: ["secret"] })
    )
    expect(postbackParserFor({ payloadKeyPattern: /^a$/ })).not.toBe(
      postbackParserFor({ payloadKeyPattern: /^b$/ })
    )
    expect(postbackParserFor()).toBe(postbackParserFor(undefined))
  })

  it("shares one parser per set of options", async () => {
    const parser = makePostbackParser({ exclude: ["secret"], maxBodyBytes: 10 })
    const result = await parser.parseRequest(json(docsPostback))
    expect(errorsOf(result)[0]?.message).toMatch(/more than 10 bytes/)
    expect(parser.options.exclude.has("secret")).toBe(true)
  })
})
