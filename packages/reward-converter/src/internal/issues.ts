// Turns schema issues (paths into the rules JSON) into issues that name the
// rule and the field, the way a person editing the file thinks of them.
import { SchemaAST, SchemaIssue } from "effect"
import type { RuleIssue } from "../RewardRules.ts"

const PROBLEM = "@org/reward-converter/problem"

/**
 * The annotation that gives a field its one message: `describe(actual)` is the
 * bad value as written in the rules, whatever Effect Schema found wrong with it.
 */
export const problem = (
  message: (actual: unknown) => string
): { readonly [PROBLEM]: (actual: unknown) => string } => ({ [PROBLEM]: message })

const problemOf = (ast: SchemaAST.AST | undefined): ((actual: unknown) => string) | undefined => {
  if (ast === undefined) return undefined
  const message = SchemaAST.resolve(ast)?.[PROBLEM]
  return typeof message === "function" ? (message as (actual: unknown) => string) : undefined
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The schema of the value at `key` inside a value of schema `ast`. */
const childAst = (
  ast: SchemaAST.AST | undefined,
  key: string | number
): SchemaAST.AST | undefined => {
  if (ast === undefined) return undefined
  if (SchemaAST.isObjects(ast)) return ast.propertySignatures.find((p) => p.name === key)?.type
  if (SchemaAST.isArrays(ast) && typeof key === "number") return ast.elements[key] ?? ast.rest[0]
  return undefined
}

const valueAt = (input: unknown, path: ReadonlyArray<string | number>): unknown => {
  let value = input
  for (const key of path) {
    if (typeof key === "number" ? !Array.isArray(value) : !isRecord(value)) return undefined
    value = (value as Record<string | number, unknown>)[key]
  }
  return value
}

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

/** A rule issue for `path` in `input`. */
export const ruleIssue = (
  input: unknown,
  path: ReadonlyArray<string | number>,
  message: string
): RuleIssue => {
  const { rule, rest } = ruleOf(input, path)
  return { rule, field: fieldText(rest), path, message }
}

interface Found {
  readonly path: ReadonlyArray<string | number>
  readonly leaf: SchemaIssue.Issue
}

/** Every leaf of an issue tree, with the path to it, in the order of the tree. */
const leaves = (issue: SchemaIssue.Issue, path: ReadonlyArray<string | number>): Array<Found> => {
  switch (issue._tag) {
    case "Pointer":
      return leaves(issue.issue, [
        ...path,
        ...issue.path.map((key) => (typeof key === "number" ? key : String(key)))
      ])
    case "Filter":
    case "Encoding":
      return leaves(issue.issue, path)
    case "Composite":
      return issue.issues.flatMap((inner) => leaves(inner, path))
    case "AnyOf":
      return issue.issues.length === 0
        ? [{ path, leaf: issue }]
        : issue.issues.flatMap((inner) => leaves(inner, path))
    default:
      return [{ path, leaf: issue }]
  }
}

const explicitMessage = (leaf: SchemaIssue.Issue): string | undefined => {
  if (leaf._tag !== "InvalidValue") return undefined
  const message = leaf.annotations?.message
  return typeof message === "string" ? message : undefined
}

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

const knownFields = (ast: SchemaAST.AST): string =>
  SchemaAST.isObjects(ast)
    ? ast.propertySignatures.map((p) => JSON.stringify(String(p.name))).join(", ")
    : ""

/**
 * The rule issues of a schema issue on `input`, a value of the schema whose
 * AST is `root`. A field's `problem` annotation gives the message of every
 * issue about that field's value (one per field); a message a check wrote
 * (cross-field checks) is kept as it is.
 */
export const ruleIssues = (
  input: unknown,
  issue: SchemaIssue.Issue,
  root: SchemaAST.AST
): Array<RuleIssue> => {
  const seen = new Set<string>()
  const issues: Array<RuleIssue> = []
  for (const { path, leaf } of leaves(issue, [])) {
    let message: string
    if (leaf._tag === "MissingKey") {
      message = "is required"
    } else if (leaf._tag === "UnexpectedKey") {
      message = `unknown field (known fields: ${knownFields(leaf.ast)})`
    } else {
      const fieldAst = path.reduce<SchemaAST.AST | undefined>(childAst, root)
      const fieldProblem = problemOf(fieldAst)
      message =
        explicitMessage(leaf) ??
        fieldProblem?.(valueAt(input, path)) ??
        standardFormatter(leaf).issues[0]?.message ??
        "is invalid"
    }
    const key = JSON.stringify([path, message])
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(ruleIssue(input, path, message))
  }
  return issues
}

/** One line per issue: `overrides[1] (offer "1511"), field "multiplier": must not be negative`. */
export const formatRuleIssue = (issue: RuleIssue): string =>
  issue.field === ""
    ? `${issue.rule}: ${issue.message}`
    : `${issue.rule}, field ${JSON.stringify(issue.field)}: ${issue.message}`
