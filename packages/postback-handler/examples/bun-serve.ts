// Bun: bun run bun-serve.ts
import { createPostbackHandler } from "@org/postback-handler"

// What this example uses of Bun's types (a Bun project has them from @types/bun).
declare const Bun: {
  readonly env: Readonly<Record<string, string | undefined>>
  serve(options: {
    readonly port: number
    readonly routes: Readonly<Record<string, (request: Request) => Promise<Response>>>
    readonly fetch: (request: Request) => Response
  }): unknown
}

const handler = createPostbackHandler({
  secret: Bun.env.POSTBACK_SECRET!,
  onPostback: async ({ identity, postback, status }) => {
    // Store it here (see examples/postgres.ts): the 200 is sent once this resolves.
    console.log(status, identity, postback.offerId, postback.payout.toString())
  }
})

Bun.serve({
  port: Number(Bun.env.PORT ?? 3000),
  routes: { "/postbacks": handler },
  fetch: () => new Response("Not Found", { status: 404 })
})
