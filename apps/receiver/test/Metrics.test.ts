import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { prometheusText } from "../src/Metrics.ts"
import { testDatabases } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// `promtool check metrics` is what a Prometheus server's parser and linter
// say about the text. Without promtool the checks are skipped, except under
// CI, where a missing promtool fails them (CI installs it: see .ci/run).
const hasPromtool = spawnSync("promtool", ["--version"]).error === undefined
const checkable = hasPromtool || process.env.CI !== undefined

const promtool = (text: string) => {
  const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })
  if (result.error !== undefined) throw result.error
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() }
}

/** Each histogram series has strictly growing `le` bounds, ending in one `+Inf`. */
const bucketBounds = (text: string): Map<string, Array<string>> => {
  const series = new Map<string, Array<string>>()
  for (const line of text.split("\n")) {
    const match = /^(\w+)_bucket\{(.*)\} /.exec(line)
    if (match === null) continue
    const le = /(?:^|,)le="([^"]*)"/.exec(match[2]!)![1]!
    const key = `${match[1]}{${match[2]!.replace(/(?:^|,)le="[^"]*"/, "")}}`
    series.set(key, [...(series.get(key) ?? []), le])
  }
  return series
}

/** The metrics the README documents: `| \`name\` | type | ...` rows of its metrics table. */
const documented = (): Map<string, string> => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  return new Map(
    [...readme.matchAll(/^\| `(receiver_\w+)` \| (counter|gauge|histogram) \|/gm)].map(
      (m) => [m[1]!, m[2]!] as const
    )
  )
}

const families = (text: string): Map<string, string> =>
  new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const))

describe("Prometheus text", () => {
  it.effect("one +Inf bucket, counters that go down are gauges", () =>
    Effect.gen(function* () {
      const histogram = Metric.histogram("test_rows", {
        description: "rows",
        boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 4 })
      })
      const total = Metric.counter("test_events_total", {
        description: "events",
        incremental: true
      })
      const level = Metric.counter("test_level", { description: "goes up and down" })
      const gauge = Metric.gauge("test_temperature", { description: "degrees" })
      yield* Metric.update(histogram, 3)
      yield* Metric.update(histogram, 100)
      yield* Metric.update(Metric.withAttributes(total, { kind: 'a "quoted"\\value' }), 2)
      yield* Metric.update(level, 5)
      yield* Metric.update(level, -2)
      yield* Metric.update(gauge, 7)
      const text = prometheusText(yield* Metric.snapshot)
      expect(text).not.toContain('le="Infinity"')
      expect([...bucketBounds(text).values()]).toEqual([["1", "2", "4", "+Inf"]])
      expect(text).toContain('test_rows_bucket{le="4"} 1\ntest_rows_bucket{le="+Inf"} 2\n')
      expect(families(text)).toEqual(
        new Map([
          ["test_events_total", "counter"],
          ["test_temperature", "gauge"],
          ["test_level", "gauge"],
          ["test_rows", "histogram"]
        ])
      )
      expect(text).toContain("test_level 3\n")
      if (checkable) expect(promtool(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )
})

layer(testReceiver(testDatabases[0]!), { timeout: 60_000, excludeTestServices: true })(
  "GET /metrics",
  (it) => {
    it.effect.skipIf(!checkable)(
      "passes promtool check metrics and shows only documented metrics",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // Some traffic, so that every kind of series exists.
          yield* Effect.promise(() => fetch(`${receiver.baseUrl}/postbacks?secret=wrong`))
          yield* Effect.promise(() =>
            fetch(
              receiver.postbackUrl(
                "offer_id=1&payout=1&timestamp=2023-09-20T15:27:40.802Z&is_loyaltyboost=1&user_id=m"
              )
            )
          )
          yield* receiver.worker.drain
          const text = yield* Effect.promise(async () => {
            const r = await fetch(`${receiver.baseUrl}/metrics`, {
              headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
            })
            return r.text()
          })
          expect(promtool(text)).toEqual({ status: 0, output: "" })
          expect(text).not.toContain('le="Infinity"')
          for (const bounds of bucketBounds(text).values()) {
            expect(bounds.at(-1)).toBe("+Inf")
            expect(bounds.filter((b) => b === "+Inf")).toHaveLength(1)
          }
          const shown = families(text)
          expect(shown.size).toBeGreaterThanOrEqual(3)
          const readme = documented()
          for (const [name, type] of shown) expect(readme.get(name), name).toBe(type)
        })
    )
  }
)
