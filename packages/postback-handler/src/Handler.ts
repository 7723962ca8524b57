import type { Postback, PostbackIssue } from "@org/postback-schema/plain"
import type { Answer } from "./Answer.ts"
import type { PostbackFlag, PostbackSource, RawDelivery } from "./Delivery.ts"
import type { IngestOptions } from "./Ingest.ts"
import { makeKit } from "./internal/handle.ts"

/**
 * One conversion to store, given to `onPostback`. Store it (under a unique
 * constraint on `identity`) before the returned promise resolves: the
 * sender gets its `200` only then.
 */
export interface PostbackEvent {
  readonly postback: Postback
  /**
   * The same for every delivery of this conversion (retries, replays, GET or
   * POST): store it under a unique constraint and insert with
   * `ON CONFLICT DO NOTHING` to credit once (see `postbackIdentity`).
   */
  readonly identity: string
  readonly source: PostbackSource
  /** `held`: a person must look at `holds` before it is credited. */
  readonly status: "accepted" | "held"
  /** What a person must look at before crediting it (empty when `accepted`). */
  readonly holds: ReadonlyArray<PostbackIssue>
  /** What was normalised on the way (never changes the outcome by itself). */
  readonly flags: ReadonlyArray<PostbackFlag>
  /** The request as it came, without the secret. */
  readonly raw: RawDelivery
  /** The request (its body is already read: see `raw` for it). */
  readonly request: Request
}

/**
 * A delivery refused with `400` (it cannot be a conversion), given to
 * `onRejected` to log or store it for debugging.
 */
export interface RejectedEvent {
  /** Why, each with its field's `path` (`""` for the whole request). */
  readonly issues: ReadonlyArray<PostbackIssue>
  readonly source: PostbackSource
  /** The request as it came, without the secret. */
  readonly raw: RawDelivery
  /** The request (its body is already read: see `raw` for it). */
  readonly request: Request
}

/** Options of {@link createPostbackHandler} and of the Express, Fastify and Hono adapters. */
export interface PostbackHandlerOptions extends IngestOptions {
  /**
   * Stores one conversion. The sender is answered `200` only once it
   * resolves, and `503` with `Retry-After` when it throws or rejects (the
   * sender retries, so store idempotently by `identity`). A failure is
   * also written to `console.error`.
   */
  readonly onPostback: (event: PostbackEvent) => void | Promise<void>
  /**
   * Called for every `400` (a delivery that cannot be a conversion), to log
   * or keep it. Awaited; whatever it does, the answer stays `400` (a
   * failure is written to `console.error`).
   */
  readonly onRejected?: ((event: RejectedEvent) => void | Promise<void>) | undefined
}

/** A fetch-style handler: a Web `Request` in, a `Response` out. */
export type PostbackHandler = (request: Request) => Promise<Response>

/**
 * The `Response` of an {@link Answer}: no body for an empty one (the HEAD
 * probe's), nor for any answer to a `HEAD` request (`head`).
 */
export const responseOf = (answer: Answer, head = false): Response =>
  new Response(head || answer.body === "" ? null : answer.body, {
    status: answer.status,
    headers: answer.headers
  })

/**
 * A handler of postbacks for any server that speaks Web `Request` and
 * `Response` (`Deno.serve`, `Bun.serve`, Cloudflare Workers, Next.js route
 * handlers, Hono): the secret and method are checked before anything is
 * read; the body is read up to `maxBodyBytes` (`413` past it) and its
 * `Content-Encoding` undone; the delivery is classified; a conversion is
 * given to `onPostback` and answered `200` once that resolves (`503` with
 * `Retry-After` when it fails). See the README's response table.
 *
 * Options are checked at once: a bad one throws a `TypeError` or
 * `RangeError` naming it. A request whose body was already read (a body
 * parser ran first) rejects with a `TypeError`: that is a programming error,
 * not the sender's.
 *
 * @example
 * import { createPostbackHandler } from "@org/postback-handler"
 *
 * const handler = createPostbackHandler({
 *   secret: Deno.env.get("POSTBACK_SECRET")!,
 *   onPostback: async ({ identity, postback, status }) => {
 *     await db.insertPostback(identity, postback, status) // ON CONFLICT (identity) DO NOTHING
 *   }
 * })
 * Deno.serve(handler)
 */
export const createPostbackHandler = (options: PostbackHandlerOptions): PostbackHandler => {
  const kit = makeKit(options)
  return async (request) =>
    responseOf(
      await kit.handle({
        method: request.method,
        target: request.url,
        open: () => ({ request, body: request.bodyUsed ? "consumed" : request.body })
      }),
      request.method.toUpperCase() === "HEAD"
    )
}
