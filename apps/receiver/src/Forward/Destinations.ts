import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import { Webhook } from "standardwebhooks"
import { invalidSetting } from "../Config.ts"

/**
 * The events a destination may receive, one per way a postback settles:
 * - `postback.credited`: points written to the ledger (the worker);
 * - `postback.recorded`: revenue only, nobody credited (the worker);
 * - `postback.unattributed`: LoyaltyBoost without a user id (the worker);
 * - `postback.reversed`: an operator took a credit back (the reversal's
 *   transaction, src/Admin/ActionsSql.ts);
 * - `postback.held`: kept for a person (reserved: the ingest path holds a
 *   postback before any settlement, so no event is written for it yet).
 *
 * The event type of a settlement is `postback.<status>`.
 */
export const EVENT_TYPES = [
  "postback.credited",
  "postback.recorded",
  "postback.unattributed",
  "postback.held",
  "postback.reversed"
] as const

export type EventType = (typeof EVENT_TYPES)[number]

/** A destination as configured: where, the signing secret, which events, and whether paused. */
export interface DestinationInput {
  /** An `http:` or `https:` URL. */
  readonly url: string
  /** A Standard Webhooks secret: `whsec_` then base64 of 24 to 64 random bytes. */
  readonly secret: string
  readonly events: ReadonlyArray<EventType>
  /** Start paused (events accumulate until resumed); default `false`. */
  readonly paused: boolean
}

/** A problem with one field of a destination: the field's path and what is wrong. */
export interface DestinationIssue {
  readonly path: string
  readonly message: string
}

/**
 * Checks a secret as `standardwebhooks` reads it: `whsec_` and base64 that
 * decodes to at least 24 bytes (Svix's and the specification's size).
 */
export const secretProblem = (secret: unknown): string | undefined => {
  if (typeof secret !== "string" || !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
    return 'must be "whsec_" followed by base64 (generate one with `openssl rand -base64 32`)'
  }
  let bytes: number
  try {
    bytes = atob(secret.slice("whsec_".length)).length
  } catch {
    return "is not valid base64 after whsec_"
  }
  if (bytes < 24 || bytes > 64) {
    return `must hold 24 to 64 bytes of key (base64 of ${bytes} bytes given)`
  }
  try {
    new Webhook(secret)
  } catch (error) {
    return `is not a valid Standard Webhooks secret: ${String(error)}`
  }
  return undefined
}

/**
 * Checks one destination given as data (a file entry, an API body) and
 * returns it, or every problem found, each naming its field.
 */
export const checkDestination = (
  value: unknown
): { readonly destination: DestinationInput } | { readonly issues: Array<DestinationIssue> } => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { issues: [{ path: "", message: 'must be an object { "url", "secret", "events" }' }] }
  }
  const entry = value as Record<string, unknown>
  const issues: Array<DestinationIssue> = []
  const url = entry.url
  if (typeof url !== "string" || !URL.canParse(url)) {
    issues.push({ path: "url", message: "must be an absolute http(s) URL" })
  } else if (!/^https?:$/.test(new URL(url).protocol)) {
    issues.push({ path: "url", message: `must be http: or https:, got ${new URL(url).protocol}` })
  }
  const secret = secretProblem(entry.secret)
  if (secret !== undefined) issues.push({ path: "secret", message: secret })
  const events = entry.events
  if (!Array.isArray(events) || events.length === 0) {
    issues.push({
      path: "events",
      message: `must be a non-empty array of event types (${EVENT_TYPES.join(", ")})`
    })
  } else {
    events.forEach((event, i) => {
      if (!(EVENT_TYPES as ReadonlyArray<unknown>).includes(event)) {
        issues.push({
          path: `events[${i}]`,
          message: `${JSON.stringify(event)} is not an event type (${EVENT_TYPES.join(", ")})`
        })
      }
    })
  }
  if (entry.paused !== undefined && typeof entry.paused !== "boolean") {
    issues.push({ path: "paused", message: "must be true or false" })
  }
  const known = new Set(["url", "secret", "events", "paused"])
  for (const key of Object.keys(entry)) {
    if (!known.has(key)) issues.push({ path: key, message: "is not a destination field" })
  }
  if (issues.length > 0) return { issues }
  return {
    destination: {
      url: url as string,
      secret: entry.secret as string,
      events: [...new Set(events as ReadonlyArray<EventType>)],
      paused: entry.paused === true
    }
  }
}

/**
 * Reads the destinations of `FORWARD_DESTINATIONS_FILE` (a JSON array of
 * `{ "url", "secret", "events", "paused"? }`). Any problem fails start-up
 * with a `ConfigError` naming the variable, the entry (index and URL) and
 * the field: `FORWARD_DESTINATIONS_FILE: entry 1 (https://...): events[0]: ...`.
 */
export const parseDestinationsFile = (
  text: string
): { readonly destinations: Array<DestinationInput> } | { readonly problems: Array<string> } => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return { problems: [`is not JSON: ${error instanceof Error ? error.message : String(error)}`] }
  }
  if (!Array.isArray(json)) {
    return { problems: ['must hold a JSON array of { "url", "secret", "events" }'] }
  }
  const problems: Array<string> = []
  const destinations: Array<DestinationInput> = []
  const urls = new Map<string, number>()
  json.forEach((entry, index) => {
    const checked = checkDestination(entry)
    const url = typeof entry?.url === "string" ? ` (${entry.url})` : ""
    if ("issues" in checked) {
      for (const issue of checked.issues) {
        problems.push(
          `entry ${index}${url}: ${issue.path === "" ? "" : `${issue.path}: `}${issue.message}`
        )
      }
      return
    }
    const first = urls.get(checked.destination.url)
    if (first !== undefined) {
      problems.push(`entry ${index}${url}: url: the same URL as entry ${first}`)
      return
    }
    urls.set(checked.destination.url, index)
    destinations.push(checked.destination)
  })
  return problems.length > 0 ? { problems } : { destinations }
}

/** Reads and checks `FORWARD_DESTINATIONS_FILE`; fails with a `ConfigError` naming every problem. */
export const readDestinationsFile = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (error) =>
      invalidSetting(
        "FORWARD_DESTINATIONS_FILE",
        `FORWARD_DESTINATIONS_FILE: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`
      )
  }).pipe(
    Effect.flatMap((text) => {
      const parsed = parseDestinationsFile(text)
      return "problems" in parsed
        ? Effect.fail(
            invalidSetting(
              "FORWARD_DESTINATIONS_FILE",
              `FORWARD_DESTINATIONS_FILE (${path}): ${parsed.problems.join("; ")}`
            )
          )
        : Effect.succeed(parsed.destinations)
    })
  )
