// A failure repeated by a background loop is reported once, then at most
// once per interval with the count (TestClock: no waiting).
import { expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { sampledWarning } from "../src/SampledLog.ts"
import { captureLogs } from "./support/logs.ts"

it.effect("first failure at once, then one line per interval with the count since the last", () => {
  const logs = captureLogs()
  return Effect.gen(function* () {
    const warn = sampledWarning(30_000)
    for (let i = 0; i < 5; i++) {
      yield* warn("Worker could not claim postbacks", "connect ECONNREFUSED")
      yield* TestClock.adjust(Duration.seconds(1))
    }
    expect(logs.entries.map((e) => e.message)).toEqual([
      ["Worker could not claim postbacks", "connect ECONNREFUSED"]
    ])
    yield* TestClock.adjust(Duration.seconds(25))
    yield* warn("Worker could not claim postbacks", "connect ECONNREFUSED")
    expect(logs.entries.map((e) => [e.level, e.message])).toEqual([
      ["Warn", ["Worker could not claim postbacks", "connect ECONNREFUSED"]],
      [
        "Warn",
        ["Worker could not claim postbacks (5 times since the last report)", "connect ECONNREFUSED"]
      ]
    ])
  }).pipe(Effect.provide(logs.layer))
})
