// Reading a Web `Request` into the input of one of the two wire forms. Only
// Web APIs (Request, URL, URLSearchParams, TextDecoder, ReadableStream), so
// the same code runs in Deno.serve, Bun, Cloudflare Workers and Node.
import { Effect } from "effect"
import { PostbackDecodeError } from "../PostbackDecodeError.ts"

/** What the body or URL of a request holds. */
export type RequestInput =
  | { readonly form: "json"; readonly body: unknown }
  | { readonly form: "query"; readonly query: URLSearchParams }

const fail = (message: string): Effect.Effect<never, PostbackDecodeError> =>
  Effect.fail(PostbackDecodeError.fromIssues([{ path: "", message }]))

const mediaType = (header: string | null): string =>
  header === null ? "" : (header.split(";", 1)[0] ?? "").trim().toLowerCase()

const isJsonMediaType = (type: string): boolean =>
  type === "application/json" || type === "text/json" || type.endsWith("+json")

class BodyTooLarge {
  constructor(readonly bytes: number) {}
}

/**
 * The body as UTF-8 text, reading at most `maxBytes` (a larger body is
 * refused as soon as it is seen to be larger, without reading the rest).
 */
const readBody = (
  request: Request,
  maxBytes: number
): Effect.Effect<string, PostbackDecodeError> => {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN)
  if (declared > maxBytes) {
    return fail(`the request body has ${declared} bytes, more than the limit of ${maxBytes}`)
  }
  if (request.bodyUsed) return fail("the request body was already read")
  const body = request.body
  if (body === null) return Effect.succeed("")
  const bytes = Effect.tryPromise({
    try: async () => {
      const reader = body.getReader()
      const chunks: Array<Uint8Array> = []
      let length = 0
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        length += value.byteLength
        if (length > maxBytes) {
          await reader.cancel()
          throw new BodyTooLarge(length)
        }
        chunks.push(value)
      }
      const out = new Uint8Array(length)
      let offset = 0
      for (const chunk of chunks) {
        out.set(chunk, offset)
        offset += chunk.byteLength
      }
      return out
    },
    catch: (error) =>
      PostbackDecodeError.fromIssues([
        {
          path: "",
          message:
            error instanceof BodyTooLarge
              ? `the request body has more than ${maxBytes} bytes, the limit`
              : `the request body could not be read: ${error instanceof Error ? error.message : String(error)}`
        }
      ])
  })
  return Effect.flatMap(bytes, (data) =>
    Effect.try({
      try: () => new TextDecoder("utf-8", { fatal: true }).decode(data),
      catch: () =>
        PostbackDecodeError.fromIssues([
          { path: "", message: "the request body is not valid UTF-8" }
        ])
    })
  )
}

/**
 * Which wire form a request carries, and its raw input: the URL's query for
 * GET; for POST the JSON body, or a form body (`x-www-form-urlencoded`) read
 * like a query. A POST without a content type is read as JSON when its body
 * starts with `{`, as a form otherwise.
 */
export const readRequest = (
  request: Request,
  maxBodyBytes: number
): Effect.Effect<RequestInput, PostbackDecodeError> => {
  const method = request.method.toUpperCase()
  if (method === "GET") {
    return Effect.try({
      try: (): RequestInput => ({ form: "query", query: new URL(request.url).searchParams }),
      catch: () =>
        PostbackDecodeError.fromIssues([
          {
            path: "",
            message: `the request URL is not a valid URL: ${JSON.stringify(request.url)}`
          }
        ])
    })
  }
  if (method !== "POST") {
    return fail(`expected a GET or POST request, got ${method}`)
  }
  const type = mediaType(request.headers.get("content-type"))
  const isForm = type === "application/x-www-form-urlencoded"
  if (!isForm && !isJsonMediaType(type) && type !== "" && type !== "text/plain") {
    return fail(
      `unsupported content type ${JSON.stringify(type)}; send application/json or application/x-www-form-urlencoded`
    )
  }
  return Effect.flatMap(readBody(request, maxBodyBytes), (text) => {
    const asJson = isJsonMediaType(type) || (!isForm && text.trimStart().startsWith("{"))
    if (!asJson)
      return Effect.succeed<RequestInput>({ form: "query", query: new URLSearchParams(text) })
    if (text.trim() === "") return fail("the request body is empty; expected a JSON object")
    return Effect.try({
      try: (): RequestInput => ({ form: "json", body: JSON.parse(text) }),
      catch: (error) =>
        PostbackDecodeError.fromIssues([
          {
            path: "",
            message: `the request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`
          }
        ])
    })
  })
}
