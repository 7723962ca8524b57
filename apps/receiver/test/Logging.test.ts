// The line logger (the ingest route's per-delivery line, written without a
// fiber) writes the line Effect's own formatter writes, the fiber id aside.
import { expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import { formatJsonLine, jsonLine, logfmtLine } from "../src/Logging.ts"

const fields = {
  postbackId: 42,
  outcome: "accepted",
  status: 200,
  source: "post-json",
  offerId: "offer with spaces",
  payout: "2.10",
  userId: 'a "quoted"=user',
  nothing: null,
  latencyMs: 3
}
const at = new Date("2026-03-08T09:15:02.118Z")

const effectLine = (formatter: Logger.Logger<unknown, string>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(at.getTime())
    const lines: Array<string> = []
    yield* Effect.logInfo("Postback delivery").pipe(
      Effect.annotateLogs(fields),
      Effect.provide(Logger.layer([formatter.pipe(Logger.map((line) => lines.push(line)))]))
    )
    return lines
  })

it.effect("logfmt: the same line as Logger.formatLogFmt, without fiber", () =>
  Effect.gen(function* () {
    const [line] = yield* effectLine(Logger.formatLogFmt)
    expect(line!.replace(/ fiber=#\d+/, "")).toBe(logfmtLine(at, "Postback delivery", fields))
    expect(logfmtLine(at, "Postback delivery", fields)).toContain(
      'offerId="offer with spaces" payout=2.10 userId="a \\"quoted\\"=user" nothing=null'
    )
  })
)

it.effect("json: the same object as the receiver's json logger, without fiberId", () =>
  Effect.gen(function* () {
    const [line] = yield* effectLine(formatJsonLine)
    const { fiberId: _, ...rest } = JSON.parse(line!) as Record<string, unknown>
    expect(JSON.parse(jsonLine(at, "Postback delivery", fields))).toEqual(rest)
  })
)
