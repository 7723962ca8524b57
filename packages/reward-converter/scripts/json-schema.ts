// Writes reward-rules.schema.json from rewardRulesJsonSchema(); the test suite
// fails when the committed file is out of date.
import { writeFileSync } from "node:fs"
import { rewardRulesJsonSchema } from "../src/index.ts"

const target = new URL("../reward-rules.schema.json", import.meta.url)
writeFileSync(target, `${JSON.stringify(rewardRulesJsonSchema(), null, 2)}\n`)
console.log(`wrote ${target.pathname}`)
