import { JSONSchema } from "effect"
import { PostbackJson } from "../src/index.ts"

/** The committed text of postback.schema.json: the JSON Schema of the POST body. */
export const postbackJsonSchemaText = (): string =>
  `${JSON.stringify(JSONSchema.make(PostbackJson), null, 2)}\n`
