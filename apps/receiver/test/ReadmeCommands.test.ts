import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { TEST_SECRET, TestReceiver, testReceiver } from "./support/receiver.ts"

// The `postback` commands the READMEs give for this repository, run as
// written from its root (the tools from its own node_modules: pnpm and deno
// are dev dependencies, so no global install is assumed), against a receiver.
const root = fileURLToPath(new URL("../../..", import.meta.url))

// A shell's PATH: without the repository's node_modules/.bin folders the
// test runner adds (the receiver's has a `postback` binary that would answer
// in place of the root script).
const shellPath = (process.env.PATH ?? "")
  .split(":")
  .filter((dir) => !dir.startsWith(root))
  .join(":")

const run = (command: string, args: ReadonlyArray<string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(command, args, {
          cwd: root,
          env: { PATH: shellPath, HOME: process.env.HOME ?? "" },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
        child.once("exit", (code) => resolve({ code, output }))
      })
  )

layer(testReceiver(testDatabases[0]!), { timeout: 300_000, excludeTestServices: true })(
  "the postback command from the repository root",
  (it) => {
    const expectPass = (result: { code: number | null; output: string }) => {
      expect(result.output).toContain("PASS: HTTP 200")
      // the CLI masks the secret; pnpm --silent does not echo the command line
      expect(result.output).not.toContain(TEST_SECRET)
      expect(result.code).toBe(0)
    }

    it.effect("npx -y pnpm@10.34.9 --silent postback test <url> (the root script)", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        expectPass(
          yield* run("node_modules/.bin/pnpm", [
            "--silent",
            "postback",
            "test",
            receiver.postbackUrl()
          ])
        )
      })
    )

    it.effect(
      "node --conditions=@org/source --import tsx packages/postback-sender/bin/postback.js",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          expectPass(
            yield* run(process.execPath, [
              "--conditions=@org/source",
              "--import",
              "tsx",
              "packages/postback-sender/bin/postback.js",
              "test",
              receiver.postbackUrl()
            ])
          )
        })
    )

    it.effect("node_modules/.bin/deno run -A --config deno.json .../postback.deno.ts", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        expectPass(
          yield* run("node_modules/.bin/deno", [
            "run",
            "-A",
            "--config",
            "deno.json",
            "packages/postback-sender/bin/postback.deno.ts",
            "test",
            receiver.postbackUrl()
          ])
        )
      })
    )
  }
)
