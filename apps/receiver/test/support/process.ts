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

/** `src/main.ts serve` (through tsx, on the TypeScript sources) with `env` over the test settings. */
const spawnReceiver = (env: Record<string, string>) => {
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
  const onOutput = (f: (output: string) => void) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      f(output)
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
  }
  return { child, exited, output: () => output, onOutput }
}

const LISTENING = /Listening on (http:\/\/[^\s"]+)/

/**
 * Starts `src/main.ts serve` and waits until it listens. The process is
 * killed when the scope closes, if it is still running.
 */
export const startReceiverProcess = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<ReceiverProcess>((resolve, reject) => {
          const { child, exited, output, onOutput } = spawnReceiver(env)
          const timer = setTimeout(() => {
            child.kill("SIGKILL")
            reject(new Error(`receiver did not start in time:\n${output()}`))
          }, 240_000)
          let started = false
          onOutput((text) => {
            const listening = started ? null : LISTENING.exec(text)
            if (listening !== null) {
              started = true
              clearTimeout(timer)
              resolve({ baseUrl: listening[1]!, child, output, exited })
            }
          })
          void exited.then((code) => {
            clearTimeout(timer)
            reject(new Error(`receiver exited (${code}) before listening:\n${output()}`))
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

/**
 * Starts `src/main.ts serve` expecting it to fail: resolves with its exit
 * code and output once it exits. A process that starts listening instead is
 * killed, and reported with `listening: true`.
 */
export const receiverStartFailure = (env: Record<string, string>) =>
  Effect.promise(async () => {
    const { child, exited, output, onOutput } = spawnReceiver(env)
    let listening = false
    onOutput((text) => {
      if (!listening && LISTENING.test(text)) {
        listening = true
        child.kill("SIGKILL")
      }
    })
    const code = await exited
    return { code, output: output(), listening }
  })
