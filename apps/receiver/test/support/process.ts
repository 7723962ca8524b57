import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { testEnv } from "./env.ts"

const appDir = fileURLToPath(new URL("../..", import.meta.url))

/** A receiver started as its own process, the way `receiver serve` runs in production. */
export interface ReceiverProcess {
  readonly baseUrl: string
  readonly child: ChildProcess
  readonly output: () => string
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>
}

/**
 * Starts `src/main.ts serve` (through tsx, on the TypeScript sources) and
 * waits until it listens. The process is killed when the scope closes, if it
 * is still running.
 */
export const startReceiverProcess = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<ReceiverProcess>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ["--conditions=@org/source", "--import", "tsx", "src/main.ts", "serve"],
            {
              cwd: appDir,
              env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...testEnv(env) },
              stdio: ["ignore", "pipe", "pipe"]
            }
          )
          let output = ""
          const exited = new Promise<number | string>((done) =>
            child.once("exit", (code, signal) => done(code ?? signal ?? "unknown"))
          )
          const timer = setTimeout(() => {
            child.kill("SIGKILL")
            reject(new Error(`receiver did not start in time:\n${output}`))
          }, 60_000)
          const onData = (chunk: Buffer) => {
            output += chunk.toString()
            const listening = /Listening on (http:\/\/[^\s"]+)/.exec(output)
            if (listening !== null) {
              clearTimeout(timer)
              resolve({ baseUrl: listening[1]!, child, output: () => output, exited })
            }
          }
          child.stdout.on("data", onData)
          child.stderr.on("data", onData)
          void exited.then((code) => {
            clearTimeout(timer)
            reject(new Error(`receiver exited (${code}) before listening:\n${output}`))
          })
        })
    ),
    (receiver) =>
      Effect.sync(() => {
        if (receiver.child.exitCode === null && receiver.child.signalCode === null) {
          receiver.child.kill("SIGKILL")
        }
      })
  )
