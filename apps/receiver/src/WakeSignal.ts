import { Context, type Duration, Effect, Layer, Queue } from "effect"

/**
 * Wakes the worker when postbacks arrive: the ingest batcher signals after
 * each commit in this process, and LISTEN/NOTIFY carries the news from other
 * processes on PostgreSQL. Signals coalesce: many arrivals wake the worker
 * once, and it then drains everything that is ready.
 */
export class WakeSignal extends Context.Service<
  WakeSignal,
  {
    /** Wakes a waiting worker (or the next one to wait). Safe from any callback. */
    readonly signal: () => void
    /** Waits for a signal, at most `timeout`. */
    readonly await: (timeout: Duration.Input) => Effect.Effect<void>
  }
>()("@org/receiver/WakeSignal") {
  static readonly layer: Layer.Layer<WakeSignal> = Layer.effect(
    WakeSignal,
    Effect.gen(function* () {
      const queue = yield* Queue.sliding<void>(1)
      return WakeSignal.of({
        signal: () => {
          Queue.offerUnsafe(queue, undefined)
        },
        await: Effect.fn("WakeSignal.await")((timeout: Duration.Input) =>
          Queue.take(queue).pipe(Effect.timeoutOption(timeout), Effect.asVoid)
        )
      })
    })
  )
}
