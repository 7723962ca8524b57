import { type Schema, SchemaIssue } from "effect"
import type { Issue } from "./decode.ts"

/** The decoder's issues as one `SchemaIssue` (a `Composite` of `Pointer`s when there are several). */
export const toSchemaIssue = (
  ast: Schema.Top["ast"],
  input: unknown,
  issues: ReadonlyArray<Issue>
): SchemaIssue.Issue => {
  const [first, ...rest] = issues.map((issue): SchemaIssue.Issue => {
    const leaf = new SchemaIssue.InvalidValue({ message: issue.message }, issue.actual, {
      reportInput: true
    })
    return issue.path.length === 0 ? leaf : new SchemaIssue.Pointer(issue.path, leaf)
  })
  return rest.length === 0 ? first! : new SchemaIssue.Composite(ast, [first!, ...rest], input)
}
