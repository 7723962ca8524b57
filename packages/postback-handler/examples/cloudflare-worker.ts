// Cloudflare Workers: the secret is a binding (wrangler secret put POSTBACK_SECRET).
import { createPostbackHandler, type PostbackHandler } from "@org/postback-handler"

interface Env {
  readonly POSTBACK_SECRET: string
}

let handler: PostbackHandler | undefined

export default {
  fetch(request: Request, env: Env): Promise<Response> | Response {
    if (new URL(request.url).pathname !== "/postbacks") {
      return new Response("Not Found", { status: 404 })
    }
    handler ??= createPostbackHandler({
      secret: env.POSTBACK_SECRET,
      onPostback: async ({ identity, postback, status }) => {
        // Store it here (D1, or PostgreSQL through Hyperdrive as in examples/postgres.ts):
        // the 200 is sent once this resolves.
        console.log(status, identity, postback.offerId, postback.payout.toString())
      }
    })
    return handler(request)
  }
}
