import {
  BUILTIN_MACROS,
  Decimal,
  isMacroName,
  macros,
  match,
  type Postback,
  parseTemplate,
  RenderError,
  render,
  TemplateError,
  validate
} from "@org/postback-macros"
import { assert, assertEquals, assertThrows } from "./assert.ts"

const DOCS_TEMPLATE =
  "https://api.example.com/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}"

const postback: Postback = {
  offerId: "1511",
  advertiserName: "Moment Science & Co",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: true,
  payload: { user_id: "3410444" }
}

Deno.test("postback-macros: macro names", () => {
  assertEquals(BUILTIN_MACROS.includes("payout"), true)
  assertEquals(isMacroName("user_id"), true)
  assertEquals(isMacroName("user id"), false)
})

Deno.test("postback-macros: renders MomentScience's documentation example", () => {
  const template = parseTemplate(DOCS_TEMPLATE)
  assertEquals(macros(template), ["payout", "user_id", "offer_id"])
  assertEquals(
    render(template, postback),
    "https://api.example.com/postbacks?payout=2.10&user_id=3410444&offer_id=1511"
  )
})

Deno.test("postback-macros: encodes values for their place in the URL", () => {
  const template = parseTemplate(
    "https://h.example/a/{advertiser_name}?adv={advertiser_name}#{user_id}"
  )
  const url = render(template, { ...postback, payload: { user_id: "a b&c😀" } })
  assertEquals(
    url,
    "https://h.example/a/Moment%20Science%20&%20Co?adv=Moment%20Science%20%26%20Co#a%20b&c%F0%9F%98%80"
  )
  assertEquals(new URL(url).href, url)
  assertEquals(new URL(url).searchParams.get("adv"), "Moment Science & Co")
})

Deno.test("postback-macros: missing payload values follow the chosen policy", () => {
  const template = parseTemplate("https://h.example/pb?c={click_id}")
  assertEquals(render(template, postback), "https://h.example/pb?c=")
  assertEquals(
    render(template, postback, { missing: "keep" }),
    "https://h.example/pb?c=%7Bclick_id%7D"
  )
  const error = assertThrows(() => render(template, postback, { missing: "error" }))
  assert(error instanceof RenderError, "expected a RenderError")
  assertEquals(error.macros, ["click_id"])
  const bad = assertThrows(() => render(template, postback, { missing: "drop" as never }))
  assert(bad instanceof TypeError && bad.message.includes('option "missing"'), String(bad))
})

Deno.test("postback-macros: reports every template problem with its position", () => {
  const error = assertThrows(() => parseTemplate("https://{host}/pb?a={}&b={user id}&c={d"))
  assert(error instanceof TemplateError, "expected a TemplateError")
  assertEquals(
    error.problems.map((problem) => problem.position),
    [8, 20, 30, 37]
  )
})

Deno.test("postback-macros: matches a request back to wire fields, in any order", () => {
  const template = parseTemplate(
    "https://pub.example/pb?amount={payout}&uid={user_id}&oid={offer_id}"
  )
  const expected = {
    ok: true,
    fields: { offer_id: "1511", payout: "2.10", payload: { user_id: "3410444" } }
  }
  assertEquals(match(template, "/pb?oid=1511&secret=s3&uid=3410444&amount=2.10"), expected)
  assertEquals(
    match(template, new Request("http://localhost:8000/pb?amount=2.10&uid=3410444&oid=1511").url),
    expected
  )
  const failed = match(template, "/pb?amount=2.10&oid=1512&secret=s3", {
    unknownParameters: "error",
    ignoreParameters: ["secret"]
  })
  assertEquals(failed.ok ? [] : failed.errors.map((error) => error.code), ["missing-parameter"])
})

Deno.test("postback-macros: render then match gives the postback's fields back", () => {
  const template = parseTemplate(
    "https://h.example/u/{user_id}?adv={advertiser_name}&t={timestamp}&lb={is_loyaltyboost}&p={payout}"
  )
  const values = ["&=+ {}%", "😀 emoji", "a/b?c#d", "100%25"]
  for (const value of values) {
    const url = render(template, {
      ...postback,
      advertiserName: value,
      payload: { user_id: value }
    })
    assertEquals(match(template, new URL(url)), {
      ok: true,
      fields: {
        advertiser_name: value,
        payout: "2.10",
        timestamp: "2023-09-20T15:27:40.802Z",
        is_loyaltyboost: "1",
        payload: { user_id: value }
      }
    })
  }
})

Deno.test("postback-macros: validate warns about macros that can never be filled", () => {
  const template = parseTemplate("https://h.example/pb?u={user_id}&c={click_id}")
  assertEquals(
    validate(template, { knownPayloadKeys: ["user_id"] }).map((warning) => [
      warning.macro,
      warning.position
    ]),
    [["click_id", 35]]
  )
})
