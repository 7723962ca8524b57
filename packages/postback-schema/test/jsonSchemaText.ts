import { postbackJsonSchema } from "../src/index.ts"

/** The committed text of postback.schema.json: the JSON Schema of the POST body. */
export const postbackJsonSchemaText = (): string =>
  `${JSON.stringify(postbackJsonSchema(), null, 2)}\n`
