// Writes postback.schema.json, the JSON Schema of the POST body, from the
// PostbackJson schema. test/JsonSchema.test.ts fails when the file drifts.
//
//   pnpm --filter @org/postback-schema generate
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { postbackJsonSchemaText } from "../test/jsonSchemaText.ts"

const path = fileURLToPath(new URL("../postback.schema.json", import.meta.url))
writeFileSync(path, postbackJsonSchemaText())
console.log(`wrote ${path}`)
