import { createPostbackHandler, type PostbackHandlerOptions } from "./Handler.ts"

/** What the handler uses of Hono's `Context`: the Web `Request`. */
export interface HonoContextLike {
  readonly req: { readonly raw: Request }
}

/** A Hono handler, as `app.all` takes it. */
export type PostbackHonoHandler = (context: HonoContextLike) => Promise<Response>

/**
 * The postback handler for Hono: mount it with `app.all` (others than GET,
 * HEAD and POST are answered `405` with `Allow`). It reads `c.req.raw`, so
 * no middleware before it may read the body (`c.req.json()`, a validator):
 * that request rejects with a `TypeError` saying so.
 *
 * Options are those of `createPostbackHandler`, checked at once.
 *
 * @example
 * import { Hono } from "hono"
 * import { postbackHono } from "@org/postback-handler/hono"
 *
 * const app = new Hono()
 * app.all("/postbacks", postbackHono({ secret, onPostback: async (event) => { await store(event) } }))
 */
export const postbackHono = (options: PostbackHandlerOptions): PostbackHonoHandler => {
  const handler = createPostbackHandler(options)
  return (context) => handler(context.req.raw)
}
