import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, References, Result } from "effect"
import { ReceiverConfig } from "../src/Config.ts"
import { LoggingLive } from "../src/Logging.ts"
import { Secrets } from "../src/Secrets.ts"

const appDir = fileURLToPath(new URL("..", import.meta.url))
const receiverArgs = ["--conditions=@org/source", "--import", "tsx", "src/main.ts"]

const dataDir = () => mkdtempSync(join(tmpdir(), "receiver-startup-"))

/** The start-up error of these settings, as the CLI prints it, or "no error". */
const startError = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Effect.gen(function* () {
    const result = yield* Effect.result(Layer.build(layer).pipe(Effect.scoped))
    return Result.isFailure(result) ? String(result.failure) : "no error"
  })

const secretsError = (values: Record<string, string>) =>
  startError(Secrets.layer.pipe(Layer.provide(ReceiverConfig.fromRecord(values))))

/** Runs `receiver <args>` to its end: exit code and output. */
const runReceiver = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [...receiverArgs, ...args], {
          cwd: appDir,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
        child.once("exit", (code) => resolve({ code, output }))
      })
  )

const freePort = () =>
  Effect.promise(
    () =>
      new Promise<number>((resolve) => {
        const server = createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as { port: number }
          server.close(() => resolve(port))
        })
      })
  )

/**
 * `receiver serve` as a process of its own (through `script` when it should
 * see a terminal), until `/healthz` answers and its output matches `until`;
 * that output, then the process is killed.
 */
const serveUntilHealthy = (
  env: Record<string, string>,
  options: { readonly terminal: boolean; readonly until: RegExp }
) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const command = [process.execPath, ...receiverArgs, "serve"]
      const child: ChildProcess = options.terminal
        ? // `script` gives the process a pseudo-terminal, as a person's shell would.
          spawn("script", ["-qfec", command.map((a) => `'${a}'`).join(" "), "/dev/null"], {
            cwd: appDir,
            env: {
              PATH: process.env.PATH ?? "",
              HOME: process.env.HOME ?? "",
              TERM: "xterm",
              ...env
            },
            stdio: ["pipe", "pipe", "pipe"],
            detached: true
          })
        : spawn(command[0]!, command.slice(1), {
            cwd: appDir,
            env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
            stdio: ["ignore", "pipe", "pipe"],
            detached: true
          })
      const state = { output: "", exited: false }
      child.stdout!.on("data", (chunk: Buffer) => (state.output += chunk.toString()))
      child.stderr!.on("data", (chunk: Buffer) => (state.output += chunk.toString()))
      child.once("exit", () => (state.exited = true))
      return { child, state }
    }),
    ({ state }) =>
      Effect.promise(async () => {
        const deadline = Date.now() + 60_000
        for (;;) {
          const healthy = await fetch(`http://127.0.0.1:${env.PORT}/healthz`).then(
            (r) => r.ok,
            () => false
          )
          if (healthy && options.until.test(state.output)) return state.output
          if (state.exited) throw new Error(`the receiver exited:\n${state.output}`)
          if (Date.now() > deadline)
            throw new Error(`the receiver did not answer:\n${state.output}`)
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }),
    ({ child }) =>
      Effect.sync(() => {
        try {
          process.kill(-child.pid!, "SIGKILL")
        } catch {
          // already gone
        }
      })
  )

const hasScript = spawnSync("script", ["--version"]).error === undefined

describe("settings errors name the setting", () => {
  it.effect("DATABASE_URL that is not a PostgreSQL URL, without repeating it", () =>
    Effect.gen(function* () {
      const error = (url: string) =>
        startError(ReceiverConfig.fromRecord({ RECEIVER_DATA_DIR: dataDir(), DATABASE_URL: url }))
      expect(yield* error("notaurl")).toContain("DATABASE_URL must be a PostgreSQL URL")
      const withPassword = yield* error("postgres//admin:hunter2-secret@db:5432/receiver")
      expect(withPassword).toContain("DATABASE_URL")
      expect(withPassword).not.toContain("hunter2-secret")
      expect(yield* error("mysql://u:p@db/receiver")).toContain("DATABASE_URL")
      for (const valid of [
        "postgres://user:pass@db.example.com:5432/receiver",
        "postgresql://db/receiver?sslmode=require",
        "postgres://user@h1:5432,h2:5433/receiver",
        "postgres:///receiver"
      ]) {
        expect(yield* error(valid), valid).toBe("no error")
      }
    })
  )

  it.live(
    "receiver migrate with DATABASE_URL=notaurl exits 1 with a message, not a TypeError",
    () =>
      Effect.gen(function* () {
        const { code, output } = yield* runReceiver(["migrate"], { DATABASE_URL: "notaurl" })
        expect(code).toBe(1)
        expect(output).toContain("DATABASE_URL must be a PostgreSQL URL")
        expect(output).not.toContain("TypeError")
        expect(output).not.toContain("Invalid URL")
        // the message alone, one line, not buried under a stack trace
        expect(output).toContain("receiver: DATABASE_URL must be a PostgreSQL URL")
        expect(output).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m)
      }),
    60_000
  )

  it.effect("a corrupt secrets.json fails the start, naming the file, and is left as it is", () =>
    Effect.gen(function* () {
      for (const corrupt of ['{"postbackSecret": "abc', "[1, 2]", '{"postbackSecret": 42}']) {
        const dir = dataDir()
        const file = join(dir, "secrets.json")
        writeFileSync(file, corrupt)
        const error = yield* secretsError({ RECEIVER_DATA_DIR: dir })
        expect(error).toContain("RECEIVER_DATA_DIR")
        expect(error).toContain(file)
        expect(readFileSync(file, "utf8")).toBe(corrupt)
      }
      // a kept secret the start would refuse from the environment is refused from the file
      const dir = dataDir()
      writeFileSync(
        join(dir, "secrets.json"),
        JSON.stringify({ postbackSecret: "Pub+Secret/2024==abc", adminToken: "x".repeat(20) })
      )
      expect(yield* secretsError({ RECEIVER_DATA_DIR: dir })).toMatch(
        /RECEIVER_DATA_DIR.*postbackSecret.*A-Z a-z 0-9 - \. _ ~/
      )
    })
  )

  it.effect("a data folder that cannot hold secrets.json is a RECEIVER_DATA_DIR error", () =>
    Effect.gen(function* () {
      // A file where the folder should be: nothing can be read or written under it.
      const notAFolder = join(dataDir(), "plain-file")
      writeFileSync(notAFolder, "")
      const error = yield* secretsError({ RECEIVER_DATA_DIR: notAFolder })
      expect(error).toContain("RECEIVER_DATA_DIR")
      expect(error).toContain(join(notAFolder, "secrets.json"))
    })
  )

  it.effect("LOG_LEVEL takes every documented name", () =>
    Effect.gen(function* () {
      const levels = {
        All: "All",
        Debug: "Debug",
        Info: "Info",
        Warning: "Warn",
        Error: "Error",
        None: "None"
      }
      for (const [name, level] of Object.entries(levels)) {
        const minimum = yield* References.MinimumLogLevel.pipe(
          Effect.provide(LoggingLive),
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ LOG_LEVEL: name })))
        )
        expect(minimum, name).toBe(level)
      }
      const bad = yield* Effect.result(
        Effect.void.pipe(
          Effect.provide(LoggingLive),
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ LOG_LEVEL: "Loud" })))
        )
      )
      expect(Result.isFailure(bad) ? String(bad.failure) : "").toContain("LOG_LEVEL")
    })
  )
})

describe("the postback URLs and the secrets in the output", () => {
  it.live(
    "collected output (not a terminal) never holds a secret; receiver urls prints them",
    () =>
      Effect.gen(function* () {
        const dir = dataDir()
        const port = yield* freePort()
        const env = {
          PORT: String(port),
          HOST: "127.0.0.1",
          RECEIVER_DATA_DIR: dir,
          LOG_LEVEL: "Warning"
        }
        // Until the announcement is out: its last line (or the URLs printed as text).
        const output = yield* serveUntilHealthy(env, {
          terminal: false,
          until: /(GET with macros:|receiver urls`)[^\n]*\n/
        })
        const kept = JSON.parse(readFileSync(join(dir, "secrets.json"), "utf8")) as {
          postbackSecret: string
          adminToken: string
        }
        expect(output).not.toContain(kept.postbackSecret)
        expect(output).not.toContain(kept.adminToken)
        expect(output).toContain("receiver urls")
        expect(output).toMatch(/level=WARN/) // logfmt: the default off a terminal

        const urls = yield* runReceiver(["urls"], env)
        expect(urls.code).toBe(0)
        expect(urls.output).toContain(
          `POST (recommended): http://localhost:${port}/postbacks?secret=${kept.postbackSecret}`
        )
        expect(urls.output).toContain(
          `/postbacks?secret=${kept.postbackSecret}&offer_id={offer_id}`
        )
        expect(urls.output).toContain(
          `Admin API token (Authorization: Bearer ...): ${kept.adminToken}`
        )
      }),
    120_000
  )

  it.live.skipIf(!hasScript && process.env.CI === undefined)(
    "on a terminal the logs are pretty and a new secret is shown",
    () =>
      Effect.gen(function* () {
        const dir = dataDir()
        const port = yield* freePort()
        const output = yield* serveUntilHealthy(
          { PORT: String(port), HOST: "127.0.0.1", RECEIVER_DATA_DIR: dir },
          { terminal: true, until: /GET with macros:[^\n]*\n/ }
        )
        const kept = JSON.parse(readFileSync(join(dir, "secrets.json"), "utf8")) as {
          postbackSecret: string
        }
        expect(output).toMatch(/INFO.*Listening on http/)
        expect(output).not.toContain("level=INFO")
        expect(output).toContain(`/postbacks?secret=${kept.postbackSecret}`)
      }),
    120_000
  )
})
