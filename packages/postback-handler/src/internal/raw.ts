// The request as it came, for a person to read later, with the secret taken
// out of every place a sender may have put it.
import type { RawDelivery } from "../Delivery.ts"
import { base64, decodeMarked, percentEncoded, unstorable } from "./bytes.ts"
import { jsonText, parseJson } from "./fields.ts"
import { parseQuery, type QueryParam } from "./query.ts"

const queryRecord = (
  params: ReadonlyArray<QueryParam>,
  secretParam: string
): Record<string, string | Array<string>> => {
  const query: Record<string, string | Array<string>> = {}
  const text = (t: string): string => (unstorable(t) === undefined ? t : percentEncoded(t))
  for (const param of params) {
    if (param.name === secretParam) continue
    const name = text(param.name)
    const value = text(param.value)
    const seen = query[name]
    if (seen === undefined) query[name] = value
    else if (Array.isArray(seen)) seen.push(value)
    else query[name] = [seen, value]
  }
  return query
}

/** The form body without its secret parameter(s), every other byte as it was. */
const formWithoutSecret = (text: string, secretParam: string): string =>
  text
    .split("&")
    .filter((part) => {
      const name = part.split("=", 1)[0] ?? ""
      return parseQuery(name)[0]?.name !== secretParam
    })
    .join("&")

/** The JSON body without a top-level secret; the text as it was when there is none. */
const jsonWithoutSecret = (text: string, secretParam: string): string => {
  if (!text.includes(secretParam)) return text
  try {
    const value = parseJson(text)
    if (typeof value !== "object" || value === null || Array.isArray(value)) return text
    if (!Object.hasOwn(value, secretParam)) return text
    const { [secretParam]: _secret, ...rest } = value as Record<string, unknown>
    return jsonText(rest)
  } catch {
    return text
  }
}

export const rawDelivery = (input: {
  readonly method: string
  readonly path: string
  readonly params: ReadonlyArray<QueryParam>
  readonly contentType: string | null
  readonly body: Uint8Array | null
  readonly form: "json" | "form" | undefined
  readonly secretParam: string
}): RawDelivery => {
  const { body, secretParam } = input
  let text: string | null = null
  let bodyEncoding: RawDelivery["bodyEncoding"] = null
  if (body !== null && body.length > 0) {
    const decoded = decodeMarked(body)
    if (decoded.marked) {
      text = base64(body)
      bodyEncoding = "base64"
    } else {
      text =
        input.form === "form"
          ? formWithoutSecret(decoded.text, secretParam)
          : input.form === "json"
            ? jsonWithoutSecret(decoded.text, secretParam)
            : decoded.text
      bodyEncoding = "utf8"
    }
  }
  return {
    method: input.method,
    path: input.path,
    query: queryRecord(input.params, secretParam),
    contentType: input.contentType,
    body: text,
    bodyEncoding
  }
}
