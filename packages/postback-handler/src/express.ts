import type { PostbackHandlerOptions } from "./Handler.ts"
import { makeKit } from "./internal/handle.ts"
import {
  fromNode,
  type NodeRequestLike,
  type NodeResponseLike,
  writeAnswer
} from "./internal/node.ts"

/** What the handler uses of Express's `Request`: Node's `IncomingMessage` and two Express fields. */
export interface ExpressRequestLike extends NodeRequestLike {
  /** The URL before any mount point was cut from `url`. */
  readonly originalUrl?: string | undefined
  /** Set by a body parser; bytes (from `express.raw()`) are used as they are. */
  readonly body?: unknown
}

/** An Express request handler, as `app.all` takes it. */
export type PostbackExpressHandler = (
  request: ExpressRequestLike,
  response: NodeResponseLike,
  next: (error?: unknown) => void
) => Promise<void>

/**
 * The postback handler as Express 5 middleware: mount it with `app.all` so
 * that every method reaches it (others than GET, HEAD and POST are answered
 * `405` with `Allow`). Mount it before any body parser, or let
 * `express.raw()` read the body: a body another parser read (such as
 * `express.json()`) is gone, and the request is passed to `next` with a
 * `TypeError` saying so.
 *
 * Options are those of `createPostbackHandler`, checked at once.
 *
 * @example
 * import express from "express"
 * import { postbackExpress } from "@org/postback-handler/express"
 *
 * const app = express()
 * app.all("/postbacks", postbackExpress({ secret, onPostback: async (event) => { await store(event) } }))
 */
export const postbackExpress = (options: PostbackHandlerOptions): PostbackExpressHandler => {
  const kit = makeKit(options)
  return async (request, response, next) => {
    try {
      const body = request.body
      const answer = await kit.handle(
        fromNode(
          request,
          request.originalUrl ?? request.url ?? "/",
          // express.raw() reads the body and undoes its Content-Encoding.
          body instanceof Uint8Array ? { body, decoded: true } : undefined
        )
      )
      writeAnswer(response, answer)
    } catch (error) {
      next(error)
    }
  }
}
