import { Layer } from "effect"
import { AdminAuthLive } from "./Auth.ts"
import { ApiErrorsLive } from "./Errors.ts"
import { HealthLive } from "./Health.ts"
import { MetricsLive } from "./Metrics.ts"
import { PostbacksLive } from "./Postbacks.ts"
import { UsersLive } from "./Users.ts"

/**
 * Every handler of `ReceiverApi` with the middleware it needs, for
 * `HttpApiBuilder.layer(ReceiverApi, ...)`: health, metrics, users,
 * postbacks, the admin token check and the API's error bodies.
 */
export const AdminRoutesLive = Layer.mergeAll(
  HealthLive,
  MetricsLive,
  UsersLive,
  PostbacksLive
).pipe(Layer.provide([AdminAuthLive, ApiErrorsLive]))
