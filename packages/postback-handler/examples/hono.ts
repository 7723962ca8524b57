// Hono on Node (on Deno, Bun or Workers, serve app.fetch as they do).
import { serve } from "@hono/node-server"
import { postbackHono } from "@org/postback-handler/hono"
import { Hono } from "hono"

const app = new Hono()

// No middleware before it may read the body.
app.all(
  "/postbacks",
  postbackHono({
    secret: process.env.POSTBACK_SECRET!,
    onPostback: async ({ identity, postback, status }) => {
      // Store it here (see examples/postgres.ts): the 200 is sent once this resolves.
      console.log(status, identity, postback.offerId, postback.payout.toString())
    }
  })
)

// Node refuses request headers past 16 KB by default: a GET postback carries
// its payload in the URL, so allow more.
export const server = serve({
  fetch: app.fetch,
  port: Number(process.env.PORT ?? 3000),
  serverOptions: { maxHeaderSize: 65_536 }
})
