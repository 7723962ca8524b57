import { Effect, Layer, Option, Redacted } from "effect"
import { AdminAuth, MetricsAuth, Unauthorized } from "../Api.ts"
import { redactedSecretCheck, Secrets } from "../Secrets.ts"

const refused = (credential: Redacted.Redacted<string>, expected: string) =>
  new Unauthorized({
    message:
      Redacted.value(credential) === ""
        ? `send Authorization: Bearer <${expected}>`
        : `the bearer token is not ${expected}`
  })

/** The admin routes: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export const AdminAuthLive: Layer.Layer<AdminAuth, never, Secrets> = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const { adminToken } = yield* Secrets
    const matches = redactedSecretCheck(adminToken)
    return AdminAuth.of({
      adminToken: (httpEffect, { credential }) =>
        matches(Redacted.value(credential))
          ? httpEffect
          : Effect.fail(refused(credential, "ADMIN_TOKEN"))
    })
  })
)

/**
 * `GET /metrics`: `METRICS_TOKEN`, so that a Prometheus scraper never holds
 * the admin token; the admin token is taken too (whoever holds it may read
 * everything). Without `METRICS_TOKEN`, only the admin token.
 */
export const MetricsAuthLive: Layer.Layer<MetricsAuth, never, Secrets> = Layer.effect(
  MetricsAuth,
  Effect.gen(function* () {
    const { adminToken, metricsToken } = yield* Secrets
    const checks = [adminToken, ...Option.toArray(metricsToken)].map(redactedSecretCheck)
    const expected = Option.isSome(metricsToken) ? "METRICS_TOKEN" : "ADMIN_TOKEN"
    return MetricsAuth.of({
      metricsToken: (httpEffect, { credential }) => {
        const presented = Redacted.value(credential)
        // Every check runs, so the time taken does not tell which token matched.
        let matched = false
        for (const check of checks) matched = check(presented) || matched
        return matched ? httpEffect : Effect.fail(refused(credential, expected))
      }
    })
  })
)
