import { Duration, Effect, type Fiber } from "effect"

/** Calls `f` after `ms`; returns the cancel. */
export type Timer = (ms: number, f: () => void) => () => void

interface Entry {
  readonly at: number
  readonly f: () => void
  cancelled: boolean
}

/**
 * Timers on the Effect clock (so that a test's `TestClock` drives them),
 * made for many short-lived deadlines such as the group commit's batch
 * timeout: one fiber sleeps until the earliest deadline, instead of a fiber
 * forked and interrupted per timer (that cost about 1.5 µs a postback at
 * full load). A timer costs an array slot; a cancelled one is dropped when
 * it reaches the front, and deadlines set in order (the common case: one
 * length for every batch) are appended in O(1). The fiber ends once no
 * timer is left: under load (a batch nearly always in flight) it is forked
 * rarely, and at rest none is asleep.
 *
 * `f` runs when the clock has reached the deadline, at the earliest; the
 * deadlines of one `clockTimer` fire in deadline order.
 */
export const clockTimer = (
  runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
): Effect.Effect<Timer> =>
  Effect.clockWith((clock) =>
    Effect.sync((): Timer => {
      let entries: Array<Entry> = []
      let head = 0
      // The fiber asleep until `wakeAt`, if any.
      let sleeper: { readonly fiber: Fiber.Fiber<void>; readonly wakeAt: number } | undefined

      const dropCancelled = () => {
        while (head < entries.length && entries[head]!.cancelled) head++
        if (head === entries.length) {
          entries = []
          head = 0
        } else if (head > 1024 && head * 2 > entries.length) {
          entries = entries.slice(head)
          head = 0
        }
      }

      const fire = () => {
        sleeper = undefined
        const now = clock.currentTimeMillisUnsafe()
        while (head < entries.length && entries[head]!.at <= now) {
          const entry = entries[head++]!
          if (!entry.cancelled) {
            entry.cancelled = true
            entry.f()
          }
        }
        dropCancelled()
        arm()
      }

      const arm = () => {
        if (head === entries.length) return
        const next = entries[head]!.at
        if (sleeper !== undefined) {
          if (sleeper.wakeAt <= next) return
          sleeper.fiber.interruptUnsafe()
        }
        const delay = Math.max(0, next - clock.currentTimeMillisUnsafe())
        sleeper = {
          wakeAt: next,
          fiber: runFork(
            Effect.sleep(Duration.millis(delay)).pipe(Effect.andThen(Effect.sync(fire)))
          )
        }
      }

      return (ms, f) => {
        const entry: Entry = { at: clock.currentTimeMillisUnsafe() + ms, f, cancelled: false }
        let i = entries.length
        while (i > head && entries[i - 1]!.at > entry.at) i--
        if (i === entries.length) entries.push(entry)
        else entries.splice(i, 0, entry)
        arm()
        return () => {
          entry.cancelled = true
          dropCancelled()
          // Nothing left to time: no fiber stays asleep (a test's TestClock
          // would see a sleep that nothing waits for).
          if (head === entries.length && sleeper !== undefined) {
            sleeper.fiber.interruptUnsafe()
            sleeper = undefined
          }
        }
      }
    })
  )
