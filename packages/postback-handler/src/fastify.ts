import type { Answer } from "./Answer.ts"
import type { PostbackHandlerOptions } from "./Handler.ts"
import { makeKit } from "./internal/handle.ts"
import { fromNode, type NodeRequestLike } from "./internal/node.ts"

/** Options of {@link postbackFastify}: those of `createPostbackHandler` and the route's path. */
export interface PostbackFastifyOptions extends PostbackHandlerOptions {
  /** The route's path (under the plugin's `prefix`, if any). Default `"/postbacks"`. */
  readonly path?: string | undefined
}

/** What the plugin uses of a Fastify request. */
export interface FastifyRequestLike {
  readonly raw: NodeRequestLike & {
    readonly headers: { [name: string]: string | Array<string> | undefined }
  }
  readonly body?: unknown
}

/** What the plugin uses of a Fastify reply. */
export interface FastifyReplyLike {
  code(statusCode: number): FastifyReplyLike
  header(name: string, value: string): FastifyReplyLike
  send(payload?: string): FastifyReplyLike
}

/** What the plugin uses of a Fastify instance (its own encapsulated one). */
export interface FastifyInstanceLike {
  removeAllContentTypeParsers(): void
  addContentTypeParser(
    contentType: string,
    options: { readonly parseAs: "buffer"; readonly bodyLimit: number },
    parser: (
      request: unknown,
      body: Uint8Array,
      done: (error: Error | null, body?: Uint8Array) => void
    ) => void
  ): unknown
  setErrorHandler(
    handler: (
      error: { readonly code?: string | undefined },
      request: FastifyRequestLike,
      reply: FastifyReplyLike
    ) => Promise<FastifyReplyLike>
  ): unknown
  route(options: {
    readonly method: Array<string>
    readonly url: string
    readonly exposeHeadRoute: boolean
    readonly onRequest: (
      request: FastifyRequestLike,
      reply: FastifyReplyLike
    ) => Promise<FastifyReplyLike | undefined>
    readonly handler: (
      request: FastifyRequestLike,
      reply: FastifyReplyLike
    ) => Promise<FastifyReplyLike>
  }): unknown
}

// Every method Fastify routes by default: the others than GET, HEAD and POST
// get the kit's 405 with `Allow` rather than Fastify's 404.
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

// Fastify answers 415 itself to a Content-Type that is not a media type
// (`json`, `text`) before any parser runs, where the kit reads the body by
// its shape (a 4xx is a conversion lost). So the header is set aside while
// Fastify reads the bytes (its catch-all parser then takes every body), and
// put back before the kit or an error handler sees the request.
const setAside = new WeakMap<object, string | Array<string>>()

const putBack = (request: FastifyRequestLike): void => {
  const type = setAside.get(request.raw)
  if (type === undefined) return
  setAside.delete(request.raw)
  request.raw.headers["content-type"] = type
}

const send = (reply: FastifyReplyLike, answer: Answer): FastifyReplyLike => {
  reply.code(answer.status)
  for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value)
  return reply.send(answer.body)
}

/**
 * The postback route as a Fastify 5 plugin. Register it without
 * `fastify-plugin`: in its own encapsulated scope it replaces Fastify's
 * body parsers with one that keeps the body's bytes whatever its
 * `Content-Type` (the kit reads JSON, forms and encodings itself), so the
 * rest of the app keeps its parsers.
 * The secret and method are checked in `onRequest`, before Fastify reads a
 * body; a body past `maxBodyBytes` is answered with the kit's `413`.
 *
 * Options are those of `createPostbackHandler` plus `path`, checked when the
 * plugin is registered.
 *
 * @example
 * import Fastify from "fastify"
 * import { postbackFastify } from "@org/postback-handler/fastify"
 *
 * const app = Fastify()
 * await app.register(postbackFastify, { path: "/postbacks", secret, onPostback: async (event) => { await store(event) } })
 */
export const postbackFastify = async (
  app: FastifyInstanceLike,
  options: PostbackFastifyOptions
): Promise<void> => {
  const path = options.path ?? "/postbacks"
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new TypeError(`option path must be a path starting with "/", got ${String(path)}`)
  }
  const kit = makeKit(options)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    "*",
    { parseAs: "buffer", bodyLimit: kit.maxBodyBytes },
    (_request, body, done) => done(null, body)
  )
  app.setErrorHandler(async (error, request, reply) => {
    putBack(request)
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return send(reply, kit.tooLarge)
    throw error
  })
  app.route({
    method: METHODS,
    url: path,
    exposeHeadRoute: false,
    // Before Fastify reads a body: nothing is read from a caller without the secret.
    onRequest: async (request, reply) => {
      const refused = kit.admit(request.raw.method ?? "GET", request.raw.url ?? "/")
      if (refused !== undefined) return send(reply, refused)
      const type = request.raw.headers["content-type"]
      if (type !== undefined) {
        setAside.set(request.raw, type)
        delete request.raw.headers["content-type"]
      }
      return undefined
    },
    handler: async (request, reply) => {
      putBack(request)
      const body = request.body instanceof Uint8Array ? request.body : undefined
      const incoming = fromNode(request.raw, request.raw.url ?? "/", { body, decoded: false })
      return send(reply, await kit.handle(incoming))
    }
  })
}
