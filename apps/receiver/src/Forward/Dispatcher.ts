import { hostname } from "node:os"
import { delayAfter, isSuccess, Outcome } from "@org/postback-retry"
import {
  Cause,
  type Config,
  Context,
  Duration,
  Effect,
  FiberSet,
  Layer,
  Metric,
  Option,
  Queue
} from "effect"
import { ReceiverConfig } from "../Config.ts"
import { Database, type DatabaseError, useSql } from "../Db/Database.ts"
import { BACKGROUND_FAILURE_REPORT_MS, sampledWarning } from "../SampledLog.ts"
import { readDestinationsFile } from "./Destinations.ts"
import {
  type AttemptResult,
  type ClaimedEvent,
  claimEvents,
  listDestinations,
  pruneDelivered,
  recordAttempts,
  upsertDestination,
  webhookId
} from "./OutboxSql.ts"
import { signEvent } from "./Signing.ts"

/**
 * The response header by which a consumer stops the retries of one event:
 * `x-webhook-stop: true` on any answer makes the event `dead` at once (an
 * operator can still replay it).
 */
export const STOP_HEADER = "x-webhook-stop"

/**
 * Requests in flight to one destination at once: enough to hide a
 * consumer's latency, few enough not to open a connection per event.
 */
const SEND_CONCURRENCY = 32

const deliveries = Metric.counter("receiver_forward_deliveries_total", {
  description:
    "Forwarding attempts by destination id and result (delivered, failed: retried later, dead: retries spent or stopped by the consumer)",
  incremental: true
})
const latency = Metric.histogram("receiver_forward_latency_seconds", {
  description: "Time from sending a forwarded event to its answer (or failure), by destination id",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30]
})
const pendingGauge = Metric.gauge("receiver_forward_pending", {
  description: "Forwarded events waiting or being sent, by destination id"
})
const oldestGauge = Metric.gauge("receiver_forward_oldest_pending_seconds", {
  description: "Age of the oldest forwarded event waiting, by destination id (0 when none)"
})
const destinationsGauge = Metric.gauge("receiver_forward_destinations", {
  description: "Forwarding destinations by state (active, paused, disabled); alert on disabled > 0"
})
const DESTINATION_STATES = ["active", "paused", "disabled"] as const

/** What one pass of the dispatcher did. */
export interface DispatchReport {
  readonly claimed: number
  readonly delivered: number
  readonly failed: number
}

/**
 * Delivers the outbox: claims due events per destination (SKIP LOCKED and a
 * lease of `FORWARD_TIMEOUT_MS` + 30 s, so several processes share the work
 * and a killed one's events come back), signs each per Standard Webhooks,
 * POSTs it, and records the attempt; any 2xx within `FORWARD_TIMEOUT_MS` is
 * delivered, anything else is retried by `FORWARD_RETRY_SCHEDULE` and then
 * `dead`. A destination without a success for `FORWARD_DISABLE_AFTER_HOURS`
 * is disabled with an error log.
 */
export class Dispatcher extends Context.Service<
  Dispatcher,
  {
    readonly id: string
    /**
     * Claims due events of every destination not in `busy`, and returns each
     * destination's delivery as an effect (run them concurrently or not).
     */
    readonly claim: (
      busy: ReadonlyArray<number>
    ) => Effect.Effect<
      ReadonlyArray<{ destinationId: number; events: number; deliver: Effect.Effect<number> }>
    >
    /** One claim, every destination delivered; what it did (tests). */
    readonly runOnce: Effect.Effect<DispatchReport>
    /** Passes until nothing is due (tests, benchmarks). */
    readonly drain: Effect.Effect<number>
    /** Sets the per-destination gauges from the outbox. */
    readonly updateGauges: Effect.Effect<void>
  }
>()("@org/receiver/Forward/Dispatcher") {
  static readonly make = Effect.gen(function* () {
    // an outage makes every poll fail: one line per 30 s, with the count
    const claimFailed = sampledWarning(BACKGROUND_FAILURE_REPORT_MS)
    const { sql } = yield* Database
    const config = yield* ReceiverConfig
    const id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
    const timeoutMs = Duration.toMillis(config.forwardTimeout)
    // The lease outlives the longest send by a margin, so a live dispatcher
    // never loses a claim it is still working on.
    const leaseSeconds = Math.ceil(timeoutMs / 1000) + 30
    const policy = config.forwardRetryPolicy
    const disableAfterSeconds = Duration.toSeconds(config.forwardDisableAfter)

    /** One attempt: sign, POST, classify. Never fails. */
    const send = (event: ClaimedEvent): Effect.Effect<AttemptResult> =>
      Effect.promise(async () => {
        const at = new Date()
        const started = performance.now()
        let httpStatus: number | null = null
        let error: string | null = null
        let stop = false
        try {
          const response = await fetch(event.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "user-agent": "postback-receiver-forward/1",
              ...signEvent(event.secrets, webhookId(event.id), at, event.body)
            },
            body: event.body,
            redirect: "manual",
            signal: AbortSignal.timeout(timeoutMs)
          })
          httpStatus = response.status
          stop = response.headers.get(STOP_HEADER)?.trim().toLowerCase() === "true"
          // Read the answer to free the connection for the next event.
          await response.arrayBuffer().catch(() => undefined)
        } catch (cause) {
          const e = cause as Error & { cause?: { code?: string } }
          error =
            e.name === "TimeoutError" || e.name === "AbortError"
              ? `no answer within ${timeoutMs} ms`
              : `${e.cause?.code ?? e.name}: ${e.cause instanceof Error ? e.cause.message : e.message}`
        }
        const latencyMs = performance.now() - started
        const outcome =
          httpStatus !== null
            ? Outcome.response(httpStatus)
            : error?.startsWith("no answer")
              ? Outcome.timeout()
              : Outcome.connectionError(error ?? "")
        if (isSuccess(policy, outcome)) {
          return {
            outboxId: event.id,
            at,
            httpStatus,
            latencyMs,
            error: null,
            next: "delivered",
            delaySeconds: 0
          } as const
        }
        const message = error ?? `HTTP ${httpStatus}`
        if (stop) {
          return {
            outboxId: event.id,
            at,
            httpStatus,
            latencyMs,
            error: `${message}; retries stopped by the consumer (${STOP_HEADER}: true)`,
            next: "dead",
            delaySeconds: 0
          } as const
        }
        const delay = delayAfter(policy, event.attempts)
        return {
          outboxId: event.id,
          at,
          httpStatus,
          latencyMs,
          error: message,
          next: delay === undefined ? "dead" : "pending",
          delaySeconds: delay ?? 0
        } as const
      })

    /** Sends one destination's events concurrently and records them in one transaction. */
    const deliverGroup = Effect.fn("Dispatcher.deliver")(function* (
      destinationId: number,
      events: ReadonlyArray<ClaimedEvent>
    ) {
      const results = yield* Effect.forEach(events, send, { concurrency: SEND_CONCURRENCY })
      const recorded = yield* useSql("record forwarding attempts", () =>
        recordAttempts(sql, id, destinationId, results, disableAfterSeconds)
      ).pipe(
        // The database is gone: the lease brings the events back, and they are sent again.
        Effect.catchTag("DatabaseError", (error) =>
          Effect.logWarning("Could not record forwarding attempts", error.message).pipe(
            Effect.as(undefined)
          )
        )
      )
      const destination = String(destinationId)
      let delivered = 0
      for (const result of results) {
        const result_ =
          result.next === "delivered" ? "delivered" : result.next === "dead" ? "dead" : "failed"
        if (result.next === "delivered") delivered++
        yield* Metric.update(Metric.withAttributes(deliveries, { destination, result: result_ }), 1)
        yield* Metric.update(
          Metric.withAttributes(latency, { destination }),
          result.latencyMs / 1000
        )
      }
      if (recorded?.disabled !== undefined) {
        yield* Effect.logError("Forwarding destination disabled").pipe(
          Effect.annotateLogs({ destinationId, reason: recorded.disabled })
        )
      }
      return delivered
    })

    const claim = (busy: ReadonlyArray<number>) =>
      useSql("claim forwarded events", () =>
        claimEvents(sql, id, leaseSeconds, config.forwardBatchSize, busy)
      ).pipe(
        Effect.map((events) => {
          const groups = new Map<number, Array<ClaimedEvent>>()
          for (const event of events) {
            const group = groups.get(event.destinationId) ?? []
            group.push(event)
            groups.set(event.destinationId, group)
          }
          return [...groups].map(([destinationId, group]) => ({
            destinationId,
            events: group.length,
            deliver: deliverGroup(destinationId, group)
          }))
        }),
        Effect.catchTag("DatabaseError", (error) =>
          claimFailed("Dispatcher could not claim events", error.message).pipe(Effect.as([]))
        )
      )

    const runOnce = Effect.gen(function* () {
      const groups = yield* claim([])
      const counts = yield* Effect.forEach(groups, (group) => group.deliver, {
        concurrency: "unbounded"
      })
      const claimed = groups.reduce((sum, group) => sum + group.events, 0)
      const delivered = counts.reduce((sum, n) => sum + n, 0)
      return { claimed, delivered, failed: claimed - delivered }
    })

    const drain = Effect.gen(function* () {
      let total = 0
      for (;;) {
        const report = yield* runOnce
        total += report.delivered
        if (report.claimed === 0) return total
      }
    })

    const updateGauges = useSql("read forwarding health", () => listDestinations(sql)).pipe(
      Effect.flatMap((destinations) =>
        Effect.all([
          Effect.forEach(destinations, (d) =>
            Effect.all([
              Metric.update(
                Metric.withAttributes(pendingGauge, { destination: String(d.id) }),
                d.pending
              ),
              Metric.update(
                Metric.withAttributes(oldestGauge, { destination: String(d.id) }),
                d.oldestPendingSeconds
              )
            ])
          ),
          // Every state is written, 0 included, so an alert on
          // `receiver_forward_destinations{state="disabled"} > 0` sees it clear.
          Effect.forEach(DESTINATION_STATES, (state) =>
            Metric.update(
              Metric.withAttributes(destinationsGauge, { state }),
              destinations.filter((d) => d.state === state).length
            )
          )
        ])
      ),
      Effect.asVoid,
      Effect.catchTag("DatabaseError", () => Effect.void)
    )

    return Dispatcher.of({ id, claim, runOnce, drain, updateGauges })
  })

  static readonly layer: Layer.Layer<Dispatcher, never, Database | ReceiverConfig> = Layer.effect(
    Dispatcher,
    Dispatcher.make
  )
}

/**
 * Writes the destinations of `FORWARD_DESTINATIONS_FILE` to the database at
 * start (by URL: new ones added, known ones given the file's events and
 * secret, a changed secret rotating with an overlap); a bad file fails
 * start-up with an error naming the entry and the field.
 */
export const DestinationsFileLive: Layer.Layer<
  never,
  Config.ConfigError | DatabaseError,
  Database | ReceiverConfig
> = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* ReceiverConfig
    if (Option.isNone(config.forwardDestinationsFile)) return
    const path = config.forwardDestinationsFile.value
    const destinations = yield* readDestinationsFile(path)
    const { sql } = yield* Database
    for (const destination of destinations) {
      yield* useSql("write forwarding destinations", () =>
        upsertDestination(sql, destination, "file")
      )
    }
    yield* Effect.logInfo(`Forwarding to ${destinations.length} destination(s) from ${path}`)
  })
)

/**
 * The dispatcher's loop as a background layer: claims due events for every
 * destination it is not already sending to, and delivers each destination's
 * batch in its own fiber, so a slow or failing destination (up to
 * `FORWARD_TIMEOUT_MS` per attempt) never holds up another. Between claims
 * that find nothing it sleeps for `WORKER_POLL_MS` or until a batch ends.
 */
export const DispatcherLoopLive: Layer.Layer<never, never, Dispatcher | ReceiverConfig> =
  Layer.effectDiscard(
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      if (!config.forwardEnabled) {
        yield* Effect.logInfo("Forwarding dispatcher disabled (FORWARD_ENABLED=false)")
        return
      }
      const dispatcher = yield* Dispatcher
      const wake = yield* Queue.sliding<void>(1)
      const busy = new Set<number>()
      const inFlight = yield* FiberSet.make<number>()
      let lastGauges = 0
      const loop = Effect.gen(function* () {
        for (;;) {
          const groups = yield* dispatcher.claim([...busy])
          for (const group of groups) {
            busy.add(group.destinationId)
            yield* FiberSet.run(
              inFlight,
              group.deliver.pipe(
                Effect.ensuring(
                  Effect.sync(() => {
                    busy.delete(group.destinationId)
                    Queue.offerUnsafe(wake, undefined)
                  })
                )
              )
            )
          }
          if (Date.now() - lastGauges > 5_000) {
            lastGauges = Date.now()
            yield* dispatcher.updateGauges
          }
          if (groups.length === 0) {
            yield* Queue.take(wake).pipe(
              Effect.timeoutOption(config.workerPollInterval),
              Effect.asVoid
            )
          }
        }
      }).pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.void
            : Effect.logError("Dispatcher loop crashed; restarting", cause).pipe(
                Effect.andThen(Effect.sleep(config.workerPollInterval))
              )
        ),
        Effect.forever
      )
      yield* Effect.logInfo(`Forwarding dispatcher ${dispatcher.id} started`)
      yield* Effect.forkScoped(loop)
    })
  )

/**
 * Deletes delivered events (and their attempts) older than
 * `DELIVERY_LOG_RETENTION_DAYS`, at start and then every hour; pending and
 * dead events stay until they are delivered or replayed.
 */
export const ForwardRetentionLive: Layer.Layer<never, never, Database | ReceiverConfig> =
  Layer.effectDiscard(
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const { sql } = yield* Database
      const prune = useSql("prune forwarded events", () =>
        pruneDelivered(sql, config.deliveryLogRetentionDays)
      ).pipe(
        Effect.tap((deleted) =>
          deleted > 0
            ? Effect.logInfo(`Deleted ${deleted} delivered forwarded event(s)`)
            : Effect.void
        ),
        Effect.catchTag("DatabaseError", (error) =>
          Effect.logWarning("Could not prune forwarded events", error.message)
        )
      )
      yield* Effect.forkScoped(Effect.forever(prune.pipe(Effect.andThen(Effect.sleep("1 hour")))))
    })
  )
