// Turns schema issues (paths into the rules JSON) into issues that name the
// rule and the field, the way a person editing the file thinks of them.
import { ParseResult } from "effect"
import type { RuleIssue } from "../RewardRules.ts"

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const at = (input: unknown, key: string, index: number): unknown => {
  if (!isRecord(input)) return undefined
  const list = input[key]
  return Array.isArray(list) ? list[index] : undefined
}

const fieldText = (path: ReadonlyArray<string | number>): string =>
  path.map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? key : `.${key}`)).join("")

/** Which rule a path points into, labelled from the raw input where it can be. */
const ruleOf = (
  input: unknown,
  path: ReadonlyArray<string | number>
): { readonly rule: string; readonly rest: ReadonlyArray<string | number> } => {
  const [list, index] = path
  if ((list === "overrides" || list === "campaigns") && typeof index === "number") {
    const raw = at(input, list, index)
    let label = ""
    if (isRecord(raw)) {
      if (list === "campaigns" && typeof raw.name === "string") {
        label = ` (${JSON.stringify(raw.name)})`
      } else if (list === "overrides" && typeof raw.offerId === "string") {
        label = ` (offer ${JSON.stringify(raw.offerId)})`
      } else if (list === "overrides" && typeof raw.advertiserName === "string") {
        label = ` (advertiser ${JSON.stringify(raw.advertiserName)})`
      }
    }
    return { rule: `${list}[${index}]${label}`, rest: path.slice(2) }
  }
  return { rule: "top level", rest: path }
}

const rewordMessage = (tag: ParseResult.ArrayFormatterIssue["_tag"], message: string): string => {
  if (tag === "Missing") return "is required"
  if (tag === "Unexpected") {
    return `unknown field (known fields: ${message.replace(/^is unexpected, expected: /, "").replaceAll(" | ", ", ")})`
  }
  return message
}

/** A rule issue for `path` in `input`. */
export const ruleIssue = (
  input: unknown,
  path: ReadonlyArray<string | number>,
  message: string
): RuleIssue => {
  const { rule, rest } = ruleOf(input, path)
  return { rule, field: fieldText(rest), path, message }
}

/** The rule issues of a schema parse error on `input`. */
export const ruleIssues = (input: unknown, error: ParseResult.ParseError): Array<RuleIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
    const path = issue.path.map((key) => (typeof key === "number" ? key : String(key)))
    return ruleIssue(input, path, rewordMessage(issue._tag, issue.message))
  })

/** One line per issue: `overrides[1] (offer "1511"), field "multiplier": must not be negative`. */
export const formatRuleIssue = (issue: RuleIssue): string =>
  issue.field === ""
    ? `${issue.rule}: ${issue.message}`
    : `${issue.rule}, field ${JSON.stringify(issue.field)}: ${issue.message}`
