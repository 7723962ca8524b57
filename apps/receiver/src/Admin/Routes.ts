import { Layer } from "effect"
import { DestinationsLive } from "../Forward/Routes.ts"
import { ReconciliationsLive } from "../Reconcile/Routes.ts"
import { ActionsLive, OperatorActions } from "./Actions.ts"
import { AdminAuthLive } from "./Auth.ts"
import { ApiErrorsLive } from "./Errors.ts"
import { HealthLive } from "./Health.ts"
import { HistoryLive } from "./History.ts"
import { MetricsLive } from "./Metrics.ts"
import { PostbacksLive } from "./Postbacks.ts"
import { TestPostbackLive } from "./TestPostback.ts"
import { UsersLive } from "./Users.ts"

/**
 * Every handler of `ReceiverApi` with the middleware it needs, for
 * `HttpApiBuilder.layer(ReceiverApi, ...)`: health, metrics, users,
 * postbacks, the history (list, summary, series, CSV export), operator actions and test postbacks, reconciliations, forwarding destinations, the admin token check
 * and the API's error bodies.
 */
export const AdminRoutesLive = Layer.mergeAll(
  HealthLive,
  MetricsLive,
  UsersLive,
  PostbacksLive,
  HistoryLive,
  ActionsLive,
  TestPostbackLive,
  ReconciliationsLive,
  DestinationsLive
).pipe(Layer.provide(OperatorActions.layer), Layer.provide([AdminAuthLive, ApiErrorsLive]))
