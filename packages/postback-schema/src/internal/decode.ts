// The one decoder of postbacks. Both wire forms gather their raw values and
// hand them to `decodeFields`, which checks every field and collects every
// problem in a single pass. The plain parsers (Parse.ts), the Standard Schemas and the Effect
// Schemas (PostbackJson.ts, PostbackQuery.ts) all call these functions;
// nothing else decodes a postback.
//
// Why not a Struct of per-field schemas: that was the first version, and on
// the receiver's hot path Effect Schema's per-node cost (a Struct, a
// transformation per field, a rename to camelCase, a Struct copying the
// result) made it about three times slower (some 200k against 680k decodes/s
// of the same body in bench/decode.ts), with the rules of one field split
// between combinators and code. Here each rule lives once, in ./fields.ts.
import type { Postback } from "../Postback.ts"
import type { ResolvedPostbackOptions } from "../PostbackOptions.ts"
import { isWireField, type WireField } from "../WireFields.ts"
import {
  advertiserName,
  loyaltyBoost,
  offerId,
  PAYLOAD_EXPECTED,
  Problem,
  payloadEntryProblems,
  payloadTotalsProblems,
  payloadValue,
  payout,
  setEntry,
  show,
  timestamp
} from "./fields.ts"

/** A problem found while decoding, at a path of the JSON shape (`[]` is the whole input). */
export interface Issue {
  readonly path: ReadonlyArray<string>
  readonly message: string
  readonly actual: unknown
}

/** Either the postback or every problem (never an empty list). */
export type Decoded = Postback | ReadonlyArray<Issue>

export const isIssues = (decoded: Decoded): decoded is ReadonlyArray<Issue> =>
  Array.isArray(decoded)

const REQUIRED = "is required"

type Payload = { [key: string]: string }

const field = <A>(
  issues: Array<Issue>,
  name: WireField,
  raw: unknown,
  check: (u: unknown) => A | Problem
): A | undefined => {
  if (raw === undefined) {
    issues.push({ path: [name], message: REQUIRED, actual: raw })
    return undefined
  }
  const out = check(raw)
  if (out instanceof Problem) {
    issues.push({ path: [name], message: out.message, actual: raw })
    return undefined
  }
  return out
}

/**
 * The five top-level fields, decoded. `payloadIssues` are the problems the
 * caller found in the payload; they are listed after the fields' own.
 */
const decodeFields = (
  payloadIssues: ReadonlyArray<Issue>,
  o: ResolvedPostbackOptions,
  rawOfferId: unknown,
  rawAdvertiserName: unknown,
  rawPayout: unknown,
  rawTimestamp: unknown,
  rawLoyaltyBoost: unknown,
  payload: Payload
): Decoded => {
  const issues: Array<Issue> = []
  const id = field(issues, "offer_id", rawOfferId, (u) => offerId(u, o.maxFieldLength))
  // MomentScience sends the advertiser's name "if available": absent is empty.
  const name =
    rawAdvertiserName === undefined
      ? ""
      : field(issues, "advertiser_name", rawAdvertiserName, (u) =>
          advertiserName(u, o.maxFieldLength)
        )
  const amount = field(issues, "payout", rawPayout, (u) => payout(u, o))
  const at = field(issues, "timestamp", rawTimestamp, timestamp)
  const boost = field(issues, "is_loyaltyboost", rawLoyaltyBoost, loyaltyBoost)
  if (issues.length > 0 || payloadIssues.length > 0) return issues.concat(payloadIssues)
  return {
    offerId: id!,
    advertiserName: name!,
    payout: amount!,
    timestamp: at!,
    isLoyaltyBoost: boost!,
    payload
  }
}

/** Adds one payload entry, or its problem; returns the entry's size. */
const addPayloadEntry = (
  issues: Array<Issue>,
  payload: Payload,
  key: string,
  raw: unknown,
  o: ResolvedPostbackOptions
): number => {
  const value = payloadValue(raw)
  if (value instanceof Problem) {
    issues.push({ path: ["payload", key], message: value.message, actual: raw })
    return 0
  }
  const problems = payloadEntryProblems(key, value, o)
  if (problems !== undefined) {
    for (const problem of problems) {
      issues.push({ path: ["payload", key], message: problem.message, actual: raw })
    }
  }
  setEntry(payload, key, value)
  return key.length + value.length
}

const checkPayloadTotals = (
  issues: Array<Issue>,
  count: number,
  size: number,
  o: ResolvedPostbackOptions,
  actual: unknown
): void => {
  if (count <= o.maxPayloadKeys && size <= o.maxPayloadSize) return
  for (const problem of payloadTotalsProblems(count, size, o)) {
    issues.push({ path: ["payload"], message: problem.message, actual })
  }
}

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A POST body (the value of `JSON.parse`). Unknown top-level keys are
 * ignored; a missing `payload` is empty.
 */
export const decodeJsonBody = (input: unknown, o: ResolvedPostbackOptions): Decoded => {
  if (!isRecord(input)) {
    return [
      {
        path: [],
        message: `expected a JSON object with the postback fields, got ${input === null ? "null" : Array.isArray(input) ? "an array" : typeof input}`,
        actual: input
      }
    ]
  }
  const issues: Array<Issue> = []
  const payload: Payload = {}
  const rawPayload = input.payload
  if (rawPayload !== undefined) {
    if (isRecord(rawPayload)) {
      let count = 0
      let size = 0
      for (const key in rawPayload) {
        if (!Object.hasOwn(rawPayload, key)) continue
        count++
        size += addPayloadEntry(issues, payload, key, rawPayload[key], o)
      }
      checkPayloadTotals(issues, count, size, o, rawPayload)
    } else {
      issues.push({
        path: ["payload"],
        message: `expected ${PAYLOAD_EXPECTED}, got ${show(rawPayload)}`,
        actual: rawPayload
      })
    }
  }
  return decodeFields(
    issues,
    o,
    input.offer_id,
    input.advertiser_name,
    input.payout,
    input.timestamp,
    input.is_loyaltyboost,
    payload
  )
}

/** What a GET query can be given as: `URLSearchParams`, or a record (a repeated parameter as an array). */
export type QueryInput =
  | URLSearchParams
  | { readonly [name: string]: string | ReadonlyArray<string> | undefined }

/**
 * A GET query (or form body): the five fields by name, every other parameter
 * a payload entry, excluded names dropped. A parameter given more than once
 * is a problem naming it.
 */
export const decodeQuery = (input: QueryInput, o: ResolvedPostbackOptions): Decoded => {
  const issues: Array<Issue> = []
  const payload: Payload = {}
  let rawOfferId: string | undefined
  let rawAdvertiserName: string | undefined
  let rawPayout: string | undefined
  let rawTimestamp: string | undefined
  let rawLoyaltyBoost: string | undefined
  let count = 0
  let size = 0
  let seen: Map<string, number> | undefined
  const exclude = o.exclude

  const duplicate = (name: string): void => {
    seen ??= new Map()
    seen.set(name, (seen.get(name) ?? 1) + 1)
  }
  const add = (name: string, value: string): void => {
    if (exclude.size > 0 && exclude.has(name)) return
    switch (name) {
      case "offer_id":
        if (rawOfferId === undefined) rawOfferId = value
        else duplicate(name)
        break
      case "advertiser_name":
        if (rawAdvertiserName === undefined) rawAdvertiserName = value
        else duplicate(name)
        break
      case "payout":
        if (rawPayout === undefined) rawPayout = value
        else duplicate(name)
        break
      case "timestamp":
        if (rawTimestamp === undefined) rawTimestamp = value
        else duplicate(name)
        break
      case "is_loyaltyboost":
        if (rawLoyaltyBoost === undefined) rawLoyaltyBoost = value
        else duplicate(name)
        break
      default:
        if (Object.hasOwn(payload, name)) {
          duplicate(name)
        } else {
          count++
          size += addPayloadEntry(issues, payload, name, value, o)
        }
    }
  }

  if (input instanceof URLSearchParams) {
    input.forEach((value, name) => {
      add(name, value)
    })
  } else if (isRecord(input)) {
    for (const name in input) {
      if (!Object.hasOwn(input, name)) continue
      const value: unknown = input[name]
      if (typeof value === "string") {
        add(name, value)
      } else if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
        for (const item of value) add(name, item)
      } else if (value !== undefined) {
        issues.push({
          path: isWireField(name) ? [name] : ["payload", name],
          message: `expected a query parameter value (a string or a list of strings), got ${show(value)}`,
          actual: value
        })
      }
    }
  } else {
    return [
      {
        path: [],
        message: `expected URLSearchParams or a record of query parameters, got ${typeof input}`,
        actual: input
      }
    ]
  }
  if (seen !== undefined) {
    for (const [name, times] of seen) {
      issues.push({
        path: isWireField(name) ? [name] : ["payload", name],
        message: `the query parameter ${JSON.stringify(name)} appears ${times} times; send it once`,
        actual: undefined
      })
    }
  }
  checkPayloadTotals(issues, count, size, o, payload)
  return decodeFields(
    issues,
    o,
    rawOfferId,
    rawAdvertiserName,
    rawPayout,
    rawTimestamp,
    rawLoyaltyBoost,
    payload
  )
}
