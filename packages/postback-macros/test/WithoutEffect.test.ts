import { execFile } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"
import { Decimal as SchemaDecimal } from "@org/postback-schema"
import { Decimal, parseTemplate, render } from "../src/index.ts"
import { DOCS_TEMPLATE, docsPostback } from "./fixtures.ts"

// A module hook under which `effect` cannot be resolved, as in a project that
// does not install it.
const WITHOUT_EFFECT = `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === "effect" || specifier.startsWith("effect/")) {
    throw Object.assign(new Error("Cannot find package 'effect'"), { code: "ERR_MODULE_NOT_FOUND" })
  }
  return next(specifier, context)
}`)}`

const SCRIPT = `
import { register } from "node:module"
register(${JSON.stringify(WITHOUT_EFFECT)})
const effect = await import("effect").then(() => "loaded", (error) => error.code)
const { Decimal, match, parseTemplate, render } = await import(${JSON.stringify(new URL("../src/index.ts", import.meta.url).href)})
const template = parseTemplate(${JSON.stringify(DOCS_TEMPLATE)})
const url = render(template, {
  offerId: "1511",
  advertiserName: "Moment Science & Co",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: true,
  payload: { user_id: "3410444" }
})
console.log(JSON.stringify({ effect, url, matched: match(template, url) }))
`

describe("without effect", () => {
  // Starts a Node process with tsx: room for a busy machine (no time is asserted).
  it("the package loads, renders and matches where effect cannot be resolved", {
    timeout: 180_000
  }, async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null
      stdout: string
      stderr: string
    }>((resolve) => {
      // The sources through tsx, so that no build is needed.
      execFile(
        process.execPath,
        ["--conditions=@org/source", "--import", "tsx", "--input-type=module", "-e", SCRIPT],
        { timeout: 150_000 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr })
      )
    })
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
    expect(JSON.parse(stdout)).toEqual({
      effect: "ERR_MODULE_NOT_FOUND",
      url: "https://api.example.com/postbacks?payout=2.10&user_id=3410444&offer_id=1511",
      matched: {
        ok: true,
        fields: { offer_id: "1511", payout: "2.10", payload: { user_id: "3410444" } }
      }
    })
  })

  it("Decimal is @org/postback-schema's own, so values pass between the two packages", () => {
    expect(Decimal).toBe(SchemaDecimal)
    expect(
      render(parseTemplate(DOCS_TEMPLATE), { ...docsPostback, payout: Decimal.parse("30") })
    ).toBe("https://api.example.com/postbacks?payout=30&user_id=3410444&offer_id=1511")
  })
})
