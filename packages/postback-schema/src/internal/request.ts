// Reading a Web `Request` into the input of one of the two wire forms. Only
// Web APIs (Request, URL, URLSearchParams, TextDecoder, ReadableStream), so
// the same code runs in Deno.serve, Bun, Cloudflare Workers and Node. Plain
// promises, no Effect: the plain API and the Effect API both read through here.
import { bodyForm, decodeContentEncoding, readBytes, stripByteOrderMark } from "../RequestBody.ts"

/** What the body or URL of a request holds, or why it cannot be read (`problem`). */
export type RequestInput =
  | { readonly form: "json"; readonly body: unknown }
  | { readonly form: "query"; readonly query: URLSearchParams }
  | { readonly form: "problem"; readonly message: string }

const problem = (message: string): RequestInput => ({ form: "problem", message })

/** The body as UTF-8 text (encoding undone, byte order mark dropped), or a problem. */
const readText = async (request: Request, maxBytes: number): Promise<{ text: string } | string> => {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN)
  if (declared > maxBytes) {
    return `the request body has ${declared} bytes, more than the limit of ${maxBytes}`
  }
  if (request.bodyUsed) return "the request body was already read"
  const body = request.body
  if (body === null) return { text: "" }
  let bytes: Uint8Array | "too large"
  try {
    bytes = await readBytes(body, maxBytes)
  } catch (error) {
    return `the request body could not be read: ${error instanceof Error ? error.message : String(error)}`
  }
  if (bytes === "too large") return `the request body has more than ${maxBytes} bytes, the limit`
  const decoded = await decodeContentEncoding(
    bytes,
    request.headers.get("content-encoding"),
    maxBytes
  )
  if (!decoded.ok) return decoded.message
  try {
    return {
      text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
        stripByteOrderMark(decoded.body)
      )
    }
  } catch {
    return "the request body is not valid UTF-8"
  }
}

/**
 * Which wire form a request carries, and its raw input: the URL's query for
 * GET; for POST the body, as JSON or as a form (`x-www-form-urlencoded`,
 * read like a query) by the rule of `bodyForm`, after undoing any
 * `Content-Encoding` and dropping a byte order mark. Never rejects.
 */
export const readRequest = async (
  request: Request,
  maxBodyBytes: number
): Promise<RequestInput> => {
  const method = request.method.toUpperCase()
  if (method === "GET") {
    try {
      return { form: "query", query: new URL(request.url).searchParams }
    } catch {
      return problem(`the request URL is not a valid URL: ${JSON.stringify(request.url)}`)
    }
  }
  if (method !== "POST") return problem(`expected a GET or POST request, got ${method}`)
  const read = await readText(request, maxBodyBytes)
  if (typeof read === "string") return problem(read)
  const text = read.text
  const form = bodyForm(request.headers.get("content-type"), text)
  if (form.form === "unsupported") return problem(form.message)
  if (form.form === "form") return { form: "query", query: new URLSearchParams(text) }
  if (text.trim() === "") return problem("the request body is empty; expected a JSON object")
  try {
    return { form: "json", body: JSON.parse(text) }
  } catch (error) {
    return problem(
      `the request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`
    )
  }
}
