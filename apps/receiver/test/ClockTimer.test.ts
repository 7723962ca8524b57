// The group commit's timers run on the Effect clock: driven here by the
// TestClock, so every check is about order and the clock's time, never the
// machine's speed.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { clockTimer } from "../src/ClockTimer.ts"

const make = Effect.gen(function* () {
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)
  const timer = yield* clockTimer(runFork)
  const fired: Array<string> = []
  const set = (name: string, ms: number) => timer(ms, () => fired.push(name))
  return { timer, fired, set }
})

const advance = (ms: number) => TestClock.adjust(Duration.millis(ms))

describe("clockTimer", () => {
  it.effect("fires each timer once the clock reaches its deadline, in deadline order", () =>
    Effect.gen(function* () {
      const { fired, set } = yield* make
      set("b", 200)
      set("a", 100)
      set("c", 300)
      set("a2", 100)
      yield* advance(99)
      expect(fired).toEqual([])
      yield* advance(1)
      expect(fired).toEqual(["a", "a2"])
      yield* advance(150)
      expect(fired).toEqual(["a", "a2", "b"])
      yield* advance(1_000)
      expect(fired).toEqual(["a", "a2", "b", "c"])
      yield* advance(10_000)
      expect(fired).toEqual(["a", "a2", "b", "c"])
    })
  )

  it.effect("a cancelled timer never fires; the others still do", () =>
    Effect.gen(function* () {
      const { fired, set } = yield* make
      const cancelA = set("a", 100)
      set("b", 100)
      const cancelC = set("c", 200)
      cancelA()
      cancelC()
      cancelC()
      yield* advance(500)
      expect(fired).toEqual(["b"])
    })
  )

  it.effect("thousands of timers set and cancelled in turn, as batches come and go", () =>
    Effect.gen(function* () {
      const { fired, set } = yield* make
      // Each batch's timeout is set, then cancelled when the batch commits;
      // the clock moves 1 ms a batch. Only the last one is left running.
      for (let i = 0; i < 5_000; i++) {
        const cancel = set(`batch-${i}`, 5_000)
        yield* advance(1)
        if (i < 4_999) cancel()
      }
      expect(fired).toEqual([])
      yield* advance(5_000)
      expect(fired).toEqual(["batch-4999"])
    })
  )

  it.effect(
    "no fiber is left asleep once every timer is cancelled, and a new timer still fires",
    () =>
      Effect.gen(function* () {
        const context = yield* Effect.context<never>()
        const runFork = Effect.runForkWith(context)
        const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
        const counting = <A, E>(effect: Effect.Effect<A, E>) => {
          const fiber = runFork(effect)
          fibers.push(fiber)
          return fiber
        }
        const timer = yield* clockTimer(counting)
        const fired: Array<string> = []
        const cancelA = timer(100, () => fired.push("a"))
        const cancelB = timer(100, () => fired.push("b"))
        expect(fibers).toHaveLength(1)
        cancelB()
        cancelA()
        // The sleeper ended without its sleep being over (the clock never
        // moved): it was interrupted, so nothing sleeps on the clock now.
        const exit = yield* Fiber.await(fibers[0]!)
        expect(Exit.isSuccess(exit)).toBe(false)
        timer(50, () => fired.push("c"))
        expect(fibers).toHaveLength(2)
        yield* advance(50)
        expect(fired).toEqual(["c"])
      })
  )

  it.effect("a timer set from inside a firing one runs at its own deadline", () =>
    Effect.gen(function* () {
      const { timer, fired } = yield* make
      timer(100, () => {
        fired.push("first")
        timer(100, () => fired.push("second"))
      })
      yield* advance(100)
      expect(fired).toEqual(["first"])
      yield* advance(99)
      expect(fired).toEqual(["first"])
      yield* advance(1)
      expect(fired).toEqual(["first", "second"])
    })
  )

  it.effect("a timer set while the clock waits on a later one fires first", () =>
    Effect.gen(function* () {
      const { fired, set } = yield* make
      set("late", 1_000)
      yield* advance(10)
      set("early", 50)
      yield* advance(50)
      expect(fired).toEqual(["early"])
      yield* advance(940)
      expect(fired).toEqual(["early", "late"])
    })
  )
})
