import {
  type MacroTemplate,
  MISSING_VALUE_POLICIES,
  type MissingValuePolicy,
  macros,
  parseTemplate,
  render
} from "@org/postback-macros"
import { encodePostbackJson, encodePostbackQuery, type Postback } from "@org/postback-schema"
import type { Endpoint, OutgoingRequest } from "../Endpoint.ts"
import { show } from "./checks.ts"

/** An endpoint checked once, turning postbacks into requests. */
export interface CompiledEndpoint {
  readonly method: "GET" | "POST"
  readonly request: (postback: Postback) => OutgoingRequest
}

const absoluteUrl = (value: unknown, option: string): URL => {
  const text = value instanceof URL ? value.href : value
  if (typeof text !== "string") {
    throw new TypeError(`${option} must be an absolute http or https URL, got ${show(value)}`)
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new TypeError(`${option} must be an absolute http or https URL, got ${show(text)}`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${option} must use http or https, got ${show(text)}`)
  }
  if (url.username !== "" || url.password !== "") {
    // fetch refuses URLs with credentials; say so before the first attempt.
    throw new TypeError(
      `${option} must not carry credentials (user:password@); send them in a header, got ${show(text)}`
    )
  }
  url.hash = ""
  return url
}

/**
 * Checks an endpoint and the extra headers once, so that a bad one fails
 * before anything is sent, with a message naming the field.
 */
export const compileEndpoint = (
  endpoint: Endpoint,
  headers: Readonly<Record<string, string>>,
  where: string
): CompiledEndpoint => {
  if (typeof endpoint !== "object" || endpoint === null || Array.isArray(endpoint)) {
    throw new TypeError(
      `${where}: endpoint must be { method: "POST" | "GET", url } or { method: "GET", template }, got ${show(endpoint)}`
    )
  }
  const e = endpoint as unknown as Record<string, unknown>
  const method = e.method
  if (method !== "GET" && method !== "POST") {
    throw new TypeError(`${where}: endpoint.method must be "GET" or "POST", got ${show(method)}`)
  }
  const hasUrl = e.url !== undefined
  const hasTemplate = e.template !== undefined
  for (const key of Object.keys(e)) {
    if (!["method", "url", "template", "missing"].includes(key)) {
      throw new TypeError(
        `${where}: endpoint has an unknown field ${JSON.stringify(key)} (known: method, url, template, missing)`
      )
    }
  }
  if (method === "POST" && hasTemplate) {
    throw new TypeError(
      `${where}: endpoint.template is for GET deliveries; a POST endpoint takes a url`
    )
  }
  if (hasUrl === hasTemplate) {
    throw new TypeError(
      method === "POST"
        ? `${where}: endpoint.url is required for a POST endpoint`
        : `${where}: a GET endpoint needs either url (fields as query parameters) or template (a {macro} URL)${hasUrl ? ", not both" : ""}`
    )
  }
  if (!hasTemplate && e.missing !== undefined) {
    throw new TypeError(`${where}: endpoint.missing applies only to template endpoints`)
  }

  if (hasTemplate) {
    const template =
      typeof e.template === "string"
        ? parseTemplate(e.template)
        : checkedTemplate(e.template, where)
    if (
      e.missing !== undefined &&
      !(MISSING_VALUE_POLICIES as ReadonlyArray<unknown>).includes(e.missing)
    ) {
      throw new TypeError(
        `${where}: endpoint.missing must be one of ${MISSING_VALUE_POLICIES.map((m) => JSON.stringify(m)).join(", ")}, got ${show(e.missing)}`
      )
    }
    const options =
      e.missing === undefined ? undefined : { missing: e.missing as MissingValuePolicy }
    const get = Object.freeze({ ...headers })
    return {
      method: "GET",
      request: (postback) => ({
        method: "GET",
        url: render(template, postback, options),
        headers: get
      })
    }
  }

  const url = absoluteUrl(e.url, `${where}: endpoint.url`)
  if (method === "POST") {
    const href = url.href
    const post = Object.freeze({ "content-type": "application/json", ...headers })
    return {
      method: "POST",
      request: (postback) => ({
        method: "POST",
        url: href,
        headers: post,
        body: JSON.stringify(encodePostbackJson(postback))
      })
    }
  }
  // The postback's parameters follow the URL's own query (a receiver's
  // secret, a source tag), which is kept as written.
  const own = url.search.slice(1)
  const base = `${url.origin}${url.pathname}?${own === "" ? "" : `${own}&`}`
  const get = Object.freeze({ ...headers })
  return {
    method: "GET",
    request: (postback) => ({
      method: "GET",
      url: base + encodePostbackQuery(postback).toString(),
      headers: get
    })
  }
}

const checkedTemplate = (template: unknown, where: string): MacroTemplate => {
  try {
    macros(template as MacroTemplate)
  } catch {
    throw new TypeError(
      `${where}: endpoint.template must be a template text or a MacroTemplate returned by parseTemplate, got ${show(template)}`
    )
  }
  return template as MacroTemplate
}
