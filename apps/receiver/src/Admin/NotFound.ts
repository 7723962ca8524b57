import { Effect } from "effect"
import { HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"

const isRouteNotFound = (error: unknown): boolean =>
  HttpServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound"

/**
 * Wraps the admin app so that a path or method no route serves (`GET
 * /nope`, `DELETE /api/users/1`) answers `404` in the API's one error
 * shape, `{"error":"not_found","message":...}`, never with an empty body.
 */
export const withJsonNotFound = <E, R>(
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E,
  R | HttpServerRequest.HttpServerRequest
> =>
  Effect.catchIf(httpEffect, isRouteNotFound, () =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      return HttpServerResponse.jsonUnsafe(
        {
          error: "not_found",
          message: `no route for ${request.method} ${request.url.split("?")[0]}: the routes are in /api/openapi.json`
        },
        { status: 404 }
      )
    })
  )
