// A user's app without Effect: the plain decoders and the macros package.

import { createPostbackHandler } from "@org/postback-handler"
import { Decimal, parseTemplate, render } from "@org/postback-macros"
import { parsePostbackJson } from "@org/postback-schema/plain"

const fail = (message) => {
  console.error(`consumer: ${message}`)
  process.exit(1)
}

const result = parsePostbackJson({
  offer_id: "1511",
  payout: "2.10",
  timestamp: "2023-09-20T15:27:40.802Z",
  is_loyaltyboost: "0",
  payload: { user_id: "3410444" }
})
if (!result.ok) fail(JSON.stringify(result.errors))
const template = parseTemplate(
  "https://host/pb?payout={payout}&user_id={user_id}&offer_id={offer_id}"
)
const url = render(template, { ...result.postback, payout: Decimal.parse("2.10") })
if (url !== "https://host/pb?payout=2.10&user_id=3410444&offer_id=1511") fail(`render: ${url}`)
const stored = []
const handler = createPostbackHandler({
  secret: "consumer-secret-0123456789",
  onPostback: (event) => {
    stored.push(event.identity)
  }
})
const response = await handler(
  new Request("https://host/postbacks?secret=consumer-secret-0123456789", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      offer_id: "1511",
      payout: "2.10",
      timestamp: "2023-09-20T15:27:40.802Z",
      is_loyaltyboost: "1",
      payload: { user_id: "3410444" }
    })
  })
)
if (response.status !== 200 || stored.length !== 1) fail(`handler: ${response.status}`)
console.log("plain app: ok (no effect installed)")
