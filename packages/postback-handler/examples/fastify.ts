// Fastify 5: register the plugin (without fastify-plugin: it keeps its own scope).
import { postbackFastify } from "@org/postback-handler/fastify"
import Fastify from "fastify"

// Node refuses request headers past 16 KB by default: a GET postback carries
// its payload in the URL, so allow more.
export const app = Fastify({ http: { maxHeaderSize: 65_536 } })

await app.register(postbackFastify, {
  path: "/postbacks",
  secret: process.env.POSTBACK_SECRET!,
  onPostback: async ({ identity, postback, status }) => {
    // Store it here (see examples/postgres.ts): the 200 is sent once this resolves.
    console.log(status, identity, postback.offerId, postback.payout.toString())
  }
})

await app.listen({ port: Number(process.env.PORT ?? 3000), host: "0.0.0.0" })
