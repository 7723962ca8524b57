import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { encodePostbackJson, parsePostbackJson, postbackJsonSchema } from "../src/index.ts"
import { docsPostback, postbackArb } from "./arbitraries.ts"
import { postbackJsonSchemaText } from "./jsonSchemaText.ts"

type Property = {
  readonly pattern?: string
  readonly anyOf?: ReadonlyArray<{ readonly pattern?: string }>
}

const schema = postbackJsonSchema() as unknown as {
  readonly required: ReadonlyArray<string>
  readonly properties: Record<
    string,
    Property & { readonly propertyNames?: { readonly pattern: string } }
  >
}

const pattern = (property: Property | undefined): RegExp => {
  const source = property?.pattern ?? property?.anyOf?.find((member) => member.pattern)?.pattern
  if (source === undefined) throw new Error("no pattern")
  return new RegExp(source)
}

describe("postback.schema.json", () => {
  it("is the JSON Schema of the POST body (run `pnpm --filter @org/postback-schema generate` after changing the schema)", () => {
    const committed = readFileSync(new URL("../postback.schema.json", import.meta.url), "utf8")
    expect(committed).toBe(postbackJsonSchemaText())
  })

  it("requires the fields the decoder requires", () => {
    const missing = parsePostbackJson({})
    expect(missing.ok ? [] : missing.errors.map((e) => e.path)).toEqual([...schema.required])
  })

  it("follows the options", () => {
    const strict = postbackJsonSchema({ maxPayloadKeys: 10, maxPayoutFractionDigits: 2 })
    expect(JSON.stringify(strict)).toContain('"maxProperties":10')
    expect(JSON.stringify(strict)).toContain("(\\\\.[0-9]{1,2})?$")
  })

  it("its patterns accept every canonical body the encoder gives", () => {
    fc.assert(
      fc.property(postbackArb, (postback) => {
        const body = encodePostbackJson(postback)
        expect(pattern(schema.properties.payout).test(body.payout)).toBe(true)
        expect(pattern(schema.properties.timestamp).test(body.timestamp)).toBe(true)
        const keys = new RegExp(schema.properties.payload!.propertyNames!.pattern)
        for (const key of Object.keys(body.payload)) expect(keys.test(key)).toBe(true)
      }),
      { numRuns: 200 }
    )
  })

  it("a payout or timestamp text its patterns refuse, the decoder refuses too", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 30 }),
        (payout, timestamp) => {
          const decoded = parsePostbackJson({ ...docsPostback, payout, timestamp })
          const paths = decoded.ok ? [] : decoded.errors.map((e) => e.path)
          if (!pattern(schema.properties.payout).test(payout)) expect(paths).toContain("payout")
          if (!pattern(schema.properties.timestamp).test(timestamp))
            expect(paths).toContain("timestamp")
        }
      ),
      { numRuns: 300 }
    )
  })
})
