// The embedded database (PGlite) lives inside one process: a second receiver
// on the same data folder must not start, and a receiver killed without a
// chance to clean up must not keep the folder from being used again.
import { mkdtempSync, realpathSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Decimal } from "@org/postback-schema"
import { samplePostback, sendOnce } from "@org/postback-sender"
import { Effect } from "effect"
import { TEST_SECRET } from "./support/env.ts"
import { receiverStartFailure, startReceiverProcess } from "./support/process.ts"

const deliver = (baseUrl: string) =>
  Effect.promise(async () => {
    const result = await sendOnce(
      samplePostback({
        payout: Decimal.parse("3.00"),
        timestamp: new Date("2023-09-20T15:27:40.802Z"),
        isLoyaltyBoost: true,
        payload: { user_id: "data-dir-user" }
      }),
      { method: "POST", url: `${baseUrl}/postbacks?secret=${TEST_SECRET}` }
    )
    return { status: result.status, body: JSON.parse(result.body) as Record<string, unknown> }
  })

describe("one receiver per embedded data folder", () => {
  it.live(
    "a second receiver on the folder fails at once, naming it and the holder's pid; after SIGKILL the folder is usable again",
    () =>
      Effect.gen(function* () {
        const dataDir = mkdtempSync(join(tmpdir(), "receiver-lock-"))
        const env = { RECEIVER_DATA_DIR: dataDir, WORKER_ENABLED: "false" }
        const first = yield* startReceiverProcess(env)
        const stored = yield* deliver(first.baseUrl)
        expect(stored.status).toBe(200)

        const second = yield* receiverStartFailure(env)
        expect(second.listening).toBe(false)
        expect(second.code).not.toBe(0)
        expect(second.output).toContain(realpathSync(dataDir))
        expect(second.output).toContain(`pid ${first.child.pid}`)
        // it failed while the first one runs, without waiting for it
        expect(first.child.exitCode).toBeNull()
        expect((yield* deliver(first.baseUrl)).body).toMatchObject({ duplicate: true })

        // killed: its lock stays behind, stale; a restart takes the folder over
        first.child.kill("SIGKILL")
        expect(yield* Effect.promise(() => first.exited)).toBe("SIGKILL")
        const restarted = yield* startReceiverProcess(env)
        const again = yield* deliver(restarted.baseUrl)
        expect(again.body).toMatchObject({ id: stored.body.id, duplicate: true })
        restarted.child.kill("SIGTERM")
        expect(yield* Effect.promise(() => restarted.exited)).toBe(0)
      }).pipe(Effect.scoped),
    600_000
  )
})
