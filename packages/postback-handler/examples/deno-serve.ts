// Deno: deno run --allow-net --allow-env deno-serve.ts
import { createPostbackHandler } from "@org/postback-handler"

const handler = createPostbackHandler({
  secret: Deno.env.get("POSTBACK_SECRET")!,
  onPostback: async ({ identity, postback, status }) => {
    // Store it here (see examples/postgres.ts): the 200 is sent once this resolves.
    console.log(status, identity, postback.offerId, postback.payout.toString())
  }
})

export const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve(
  { port: Number(Deno.env.get("PORT") ?? 8000) },
  (request) =>
    new URL(request.url).pathname === "/postbacks"
      ? handler(request)
      : new Response("Not Found", { status: 404 })
)
