import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Decimal } from "@org/postback-schema"
import { samplePostback, sendOnce } from "@org/postback-sender"
import { Effect } from "effect"
import postgres from "postgres"
import { parseSegment } from "../src/Spool/Entry.ts"
import { makeIsolatedPostgres, testDatabaseUrl } from "./support/databases.ts"
import { TEST_SECRET, testEnv } from "./support/env.ts"
import { startReceiverProcess } from "./support/process.ts"
import { makeProxy } from "./support/proxy.ts"
import { eventually } from "./support/receiver.ts"

const appDir = fileURLToPath(new URL("..", import.meta.url))

/** One LoyaltyBoost postback of 3.00 USD for `user` (30 points); resolves with its status. */
const postback = (baseUrl: string, user: string) =>
  sendOnce(
    samplePostback({
      payout: Decimal.parse("3.00"),
      timestamp: new Date("2023-09-20T15:27:40.802Z"),
      isLoyaltyBoost: true,
      payload: { user_id: user }
    }),
    { method: "POST", url: `${baseUrl}/postbacks?secret=${TEST_SECRET}` }
  ).then(
    (result) => result.status,
    () => undefined
  )

const spoolHealth = async (baseUrl: string) => {
  const response = await fetch(`${baseUrl}/healthz`)
  return (
    (await response.json()) as { spool: { state: string; entries: number; problem: string | null } }
  ).spool
}

/** Sends to every user, `concurrency` at a time; calls `onAnswer` after each; the users answered 200. */
const sendAll = async (
  baseUrl: string,
  users: ReadonlyArray<string>,
  concurrency: number,
  onAnswer: (acknowledged: number) => void = () => {}
): Promise<Array<string>> => {
  const acknowledged: Array<string> = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < users.length) {
        const user = users[next++]!
        if ((await postback(baseUrl, user)) === 200) acknowledged.push(user)
        onAnswer(acknowledged.length)
      }
    })
  )
  return acknowledged
}

/**
 * The end state for `users` (user ids with one postback each): rows per
 * user, credits per row, and each user's balance.
 */
const endState = async (url: string, prefix: string) => {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const rows = await sql.unsafe<
      Array<{ user_id: string; rows: string; credits: string; balance: string | null }>
    >(
      `SELECT p.user_id, count(DISTINCT p.id)::text AS rows, count(t.id)::text AS credits,
         (SELECT balance::text FROM accounts a WHERE a.user_id = p.user_id) AS balance
       FROM postbacks p LEFT JOIN reward_transactions t ON t.postback_id = p.id
       WHERE p.user_id LIKE '${prefix}%' GROUP BY p.user_id`
    )
    const [pending] = await sql.unsafe<Array<{ n: string }>>(
      "SELECT count(*)::text AS n FROM postbacks WHERE status IN ('pending', 'processing')"
    )
    return { rows: new Map(rows.map((r) => [r.user_id, r])), pending: Number(pending!.n) }
  } finally {
    await sql.end()
  }
}

/** Every acknowledged user has one row, one credit and 30 points; nothing is left pending. */
const expectCreditedOnce = (url: string, prefix: string, acknowledged: ReadonlyArray<string>) =>
  eventually(async () => {
    const state = await endState(url, prefix)
    const done =
      state.pending === 0 && acknowledged.every((u) => state.rows.get(u)?.balance === "30")
    return done ? state : undefined
  }, 180_000).pipe(
    Effect.tap((state) =>
      Effect.sync(() => {
        for (const user of acknowledged) {
          expect(state.rows.get(user)).toMatchObject({ rows: "1", credits: "1", balance: "30" })
        }
        // postbacks that were never acknowledged may be stored too, but never twice
        for (const row of state.rows.values())
          expect(row).toMatchObject({ rows: "1", credits: "1" })
      })
    )
  )

/** A receiver process on PostgreSQL behind a proxy, with the spool in `spoolDir`. */
const setup = Effect.gen(function* () {
  const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
  const proxy = yield* makeProxy(new URL(url))
  const viaProxy = new URL(url)
  viaProxy.port = String(proxy.port())
  const spoolDir = mkdtempSync(join(tmpdir(), "receiver-spool-"))
  const env = {
    DATABASE_URL: viaProxy.toString(),
    DATABASE_TIMEOUT_MS: "1000",
    DATABASE_POOL_SIZE: "4",
    SPOOL_DIR: spoolDir,
    SPOOL_PROBE_MS: "100",
    WORKER_RETRY_BASE_MS: "100",
    WORKER_RETRY_CAP_MS: "500"
  }
  return { url, proxy, spoolDir, env }
})

const segments = (dir: string) => readdirSync(dir).filter((n) => /^spool-\d+\.log$/.test(n))

describe.skipIf(testDatabaseUrl === undefined)("the spool across SIGKILL (processes)", () => {
  it.live(
    "killed while spooling: every postback acknowledged from the journal is credited exactly once after a restart",
    () =>
      Effect.gen(function* () {
        const { url, proxy, spoolDir, env } = yield* setup
        const first = yield* startReceiverProcess(env)
        expect(yield* Effect.promise(() => postback(first.baseUrl, "killspool-warm"))).toBe(200)
        yield* Effect.promise(() => proxy.stop())
        const users = Array.from({ length: 400 }, (_, i) => `killspool-${i}`)
        const acknowledged = yield* Effect.promise(() =>
          sendAll(first.baseUrl, users, 40, (n) => {
            if (n === 150) first.child.kill("SIGKILL")
          })
        )
        expect(yield* Effect.promise(() => first.exited)).toBe("SIGKILL")
        expect(acknowledged.length).toBeGreaterThanOrEqual(150)
        expect(acknowledged.length).toBeLessThan(users.length)

        yield* Effect.promise(() => proxy.start())
        const second = yield* startReceiverProcess(env)
        yield* eventually(async () =>
          (await spoolHealth(second.baseUrl)).entries === 0 ? true : undefined
        )
        expect(segments(spoolDir)).toEqual([])
        yield* expectCreditedOnce(url, "killspool-", ["killspool-warm", ...acknowledged])
      }).pipe(Effect.scoped),
    300_000
  )

  it.live(
    "killed while replaying: the segments left are replayed at the next start, nothing twice",
    () =>
      Effect.gen(function* () {
        const { url, proxy, spoolDir, env } = yield* setup
        // small segments (a write of many appends still goes to one): replay removes tens of them, one by one
        const settings = { ...env, SPOOL_SEGMENT_BYTES: "8192" }
        const first = yield* startReceiverProcess(settings)
        yield* Effect.promise(() => proxy.stop())
        const users = Array.from({ length: 2000 }, (_, i) => `killreplay-${i}`)
        const acknowledged = yield* Effect.promise(() => sendAll(first.baseUrl, users, 100))
        expect(acknowledged).toHaveLength(users.length)
        const spooled = segments(spoolDir).length
        expect(spooled).toBeGreaterThan(20)

        yield* Effect.promise(() => proxy.start())
        // kill at the first sign of replay
        const left = yield* eventually(async () => {
          const { entries } = await spoolHealth(first.baseUrl)
          if (entries < users.length) {
            first.child.kill("SIGKILL")
            return entries
          }
          return undefined
        }, 60_000)
        expect(yield* Effect.promise(() => first.exited)).toBe("SIGKILL")
        expect(left).toBeGreaterThan(0)
        const remaining = segments(spoolDir).length
        expect(remaining).toBeGreaterThan(0)
        expect(remaining).toBeLessThan(spooled)

        const second = yield* startReceiverProcess(settings)
        yield* eventually(async () =>
          (await spoolHealth(second.baseUrl)).entries === 0 ? true : undefined
        )
        expect(segments(spoolDir)).toEqual([])
        yield* expectCreditedOnce(url, "killreplay-", acknowledged)
      }).pipe(Effect.scoped),
    300_000
  )

  it.live(
    "a damaged entry in the middle stops replay with the command that skips it; skipped by hand, the rest is replayed",
    () =>
      Effect.gen(function* () {
        const { url, proxy, spoolDir, env } = yield* setup
        const first = yield* startReceiverProcess(env)
        yield* Effect.promise(() => proxy.stop())
        const users = ["damage-0", "damage-1", "damage-2", "damage-3"]
        for (const user of users) {
          expect(yield* Effect.promise(() => postback(first.baseUrl, user))).toBe(200)
        }
        first.child.kill("SIGTERM")
        expect(yield* Effect.promise(() => first.exited)).toBe(0)

        // a bit flipped on disk in the second entry
        const [name] = segments(spoolDir)
        const file = join(spoolDir, name!)
        const data = readFileSync(file)
        const second = parseSegment(data).entries[1]!
        data[second.offset + 30] = data[second.offset + 30]! ^ 0x01
        writeFileSync(file, data)

        yield* Effect.promise(() => proxy.start())
        const running = yield* startReceiverProcess(env)
        const stopped = yield* eventually(async () => {
          const health = await spoolHealth(running.baseUrl)
          return health.state === "stopped" ? health : undefined
        })
        expect(stopped.problem).toContain(
          `receiver spool skip --segment 1 --offset ${second.offset}`
        )
        expect(stopped.entries).toBe(3)
        running.child.kill("SIGTERM")
        expect(yield* Effect.promise(() => running.exited)).toBe(0)

        const run = (args: ReadonlyArray<string>) =>
          promisify(execFile)(
            process.execPath,
            ["--conditions=@org/source", "--import", "tsx", "src/main.ts", "spool", ...args],
            { cwd: appDir, env: { PATH: process.env.PATH ?? "", ...testEnv(env) } }
          )
        // damage found: listed, and the command fails (exit code 1) for scripts
        const inspected = yield* Effect.promise(() =>
          run(["inspect"]).then(
            () => ({ code: 0, stdout: "", stderr: "" }),
            (error: { code: number; stdout: string; stderr: string }) => error
          )
        )
        expect(inspected.code).toBe(1)
        expect(inspected.stderr).toContain("the journal has 1 damaged region")
        expect(inspected.stdout).toContain(
          `damaged at offset ${second.offset}, ${second.bytes} bytes: the body's checksum does not match`
        )
        const skipped = yield* Effect.promise(() =>
          run(["skip", "--segment", "1", "--offset", String(second.offset)])
        )
        expect(skipped.stdout).toContain(`removed ${second.bytes} damaged bytes`)
        // nothing damaged left: exit code 0
        const clean = yield* Effect.promise(() => run(["inspect"]))
        expect(clean.stdout).toMatch(/3 postbacks in \d+ segments?\n$/)

        const last = yield* startReceiverProcess(env)
        yield* eventually(async () =>
          (await spoolHealth(last.baseUrl)).entries === 0 ? true : undefined
        )
        yield* expectCreditedOnce(url, "damage-", ["damage-0", "damage-2", "damage-3"])
        const state = yield* Effect.promise(() => endState(url, "damage-"))
        expect(state.rows.has("damage-1")).toBe(false)
      }).pipe(Effect.scoped),
    300_000
  )
})
