import { Effect, Layer, Metric } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { ReceiverApi } from "../Api.ts"
import { prometheusText, receiverMetrics } from "../Metrics.ts"
import { MetricsAuthLive } from "./Auth.ts"

/** `GET /metrics`: the receiver's own metrics in the Prometheus text format. */
export const MetricsLive = HttpApiBuilder.group(ReceiverApi, "metrics", (handlers) =>
  handlers.handle("metrics", () =>
    Effect.map(Metric.snapshot, (snapshots) => prometheusText(receiverMetrics(snapshots)))
  )
).pipe(Layer.provide(MetricsAuthLive))
