// How the bytes of a request body become one of the two wire forms: the one
// rule every reader of postbacks follows (parsePostbackRequest, decodeRequest,
// @org/postback-handler and the receiver), documented in the README's table.
// Web APIs only.

/** What a body is read as. */
export type BodyForm =
  | { readonly form: "json" }
  | { readonly form: "form" }
  | { readonly form: "unsupported"; readonly message: string }

const JSON_TYPES: ReadonlySet<string> = new Set(["application/json", "text/json"])

/** The media type of a `Content-Type` header, lowercased, without parameters (`""` when absent). */
export const mediaType = (contentType: string | null | undefined): string =>
  contentType == null ? "" : (contentType.split(";", 1)[0] ?? "").trim().toLowerCase()

const firstNonSpace = (text: string): string | undefined => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return text[i]
  }
  return undefined
}

/**
 * Which wire form a POST body is, from its `Content-Type` and its text (the
 * byte order mark already removed):
 *
 * | `Content-Type` | body | read as |
 * | --- | --- | --- |
 * | any | starts with `{` | JSON |
 * | `application/json`, `text/json`, `*\/*+json` | anything else | JSON (so not valid JSON: 400) |
 * | `multipart/form-data` | anything else | refused: 415 |
 * | any other, or none (`application/x-www-form-urlencoded`, `text/plain`, `text/xml`, ...) | anything else | a form, decoded like a GET query |
 *
 * A body that is plainly a JSON object is read as one whatever the header
 * says, and anything else as a form, because a postback refused for its
 * header is a conversion lost (the sender does not retry a 4xx).
 *
 * @example
 * import { bodyForm } from "@org/postback-schema"
 * bodyForm("text/xml", '{"offer_id":"1511"}') // { form: "json" }
 * bodyForm(undefined, "offer_id=1511&payout=2.10") // { form: "form" }
 */
export const bodyForm = (contentType: string | null | undefined, text: string): BodyForm => {
  const type = mediaType(contentType)
  if (firstNonSpace(text) === "{") return { form: "json" }
  if (JSON_TYPES.has(type) || type.endsWith("+json")) return { form: "json" }
  if (type === "multipart/form-data") {
    return {
      form: "unsupported",
      message:
        "multipart/form-data bodies are not read; send application/json or application/x-www-form-urlencoded"
    }
  }
  return { form: "form" }
}

/** `bytes` without a leading UTF-8 byte order mark (EF BB BF), which some senders write. */
export const stripByteOrderMark = (bytes: Uint8Array): Uint8Array =>
  bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.subarray(3)
    : bytes

/** The outcome of {@link decodeContentEncoding}. */
export type ContentDecoding =
  | { readonly ok: true; readonly body: Uint8Array }
  | {
      readonly ok: false
      /** 415: an encoding this runtime cannot undo; 413: too large once decoded; 400: not what it claims. */
      readonly status: 400 | 413 | 415
      readonly message: string
    }

const FORMATS: Readonly<Record<string, string>> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
  br: "brotli"
}

const supports = (format: string): boolean => {
  try {
    new DecompressionStream(format as ConstructorParameters<typeof DecompressionStream>[0])
    return true
  } catch {
    return false
  }
}

/**
 * Undoes a `Content-Encoding` (RFC 9110 §8.4): `gzip` (and `x-gzip`),
 * `deflate`, and `br` where the runtime's `DecompressionStream` has it (Node
 * 22+, Deno). The decoded body may not pass `maxBytes`, so that a small
 * compressed body cannot expand without bound: decoding stops as soon as it
 * does. An encoding that is unknown or not available answers 415 naming it;
 * a body that is not valid data of its encoding answers 400.
 *
 * @example
 * const decoded = await decodeContentEncoding(bytes, request.headers.get("content-encoding"), 65536)
 * if (!decoded.ok) return Response.json({ error: "...", message: decoded.message }, { status: decoded.status })
 */
export const decodeContentEncoding = async (
  bytes: Uint8Array,
  contentEncoding: string | null | undefined,
  maxBytes: number
): Promise<ContentDecoding> => {
  const codings = (contentEncoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity")
  let body = bytes
  // Codings are listed in the order they were applied: undo the last first.
  for (const coding of codings.reverse()) {
    const format = FORMATS[coding]
    if (format === undefined || !supports(format)) {
      return {
        ok: false,
        status: 415,
        message: `the Content-Encoding ${JSON.stringify(coding)} is not supported; send the body as it is, or gzip or deflate it`
      }
    }
    const decoded = await decompress(body, format, maxBytes)
    if (typeof decoded === "string") {
      return decoded === "too large"
        ? {
            ok: false,
            status: 413,
            message: `the request body is larger than ${maxBytes} bytes once decoded (${coding})`
          }
        : {
            ok: false,
            status: 400,
            message: `the request body is not valid ${coding} data (Content-Encoding: ${coding})`
          }
    }
    body = decoded
  }
  return { ok: true, body }
}

const decompress = async (
  bytes: Uint8Array,
  format: string,
  maxBytes: number
): Promise<Uint8Array | "too large" | "invalid"> => {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(
      new DecompressionStream(format as ConstructorParameters<typeof DecompressionStream>[0])
    )
  try {
    return await readBytes(stream, maxBytes)
  } catch {
    return "invalid"
  }
}

/**
 * Reads a stream of bytes (a request body) to its end, at most `maxBytes`:
 * once more have come it stops, cancels the stream and answers
 * `"too large"`, without reading the rest. Rejects when the stream fails.
 *
 * @example
 * const bytes = await readBytes(request.body, 65536)
 * if (bytes === "too large") return new Response(null, { status: 413 })
 */
export const readBytes = async (
  stream: ReadableStream<Uint8Array>,
  maxBytes: number
): Promise<Uint8Array | "too large"> => {
  const reader = stream.getReader()
  const chunks: Array<Uint8Array> = []
  let length = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    length += value.byteLength
    if (length > maxBytes) {
      await reader.cancel().catch(() => undefined)
      return "too large"
    }
    chunks.push(value)
  }
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
