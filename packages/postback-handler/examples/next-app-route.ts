// Next.js App Router: app/postbacks/route.ts
import { createPostbackHandler } from "@org/postback-handler"

const handler = createPostbackHandler({
  secret: process.env.POSTBACK_SECRET!,
  onPostback: async ({ identity, postback, status }) => {
    // Store it here (see examples/postgres.ts): the 200 is sent once this resolves.
    console.log(status, identity, postback.offerId, postback.payout.toString())
  }
})

export const GET = handler
export const HEAD = handler
export const POST = handler
