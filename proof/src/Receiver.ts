import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The receiver's package folder: processes run `src/main.ts serve` there, as
 * its tests do. `PROOF_RECEIVER_DIR` points elsewhere (another checkout).
 */
export const receiverDir: string =
  process.env.PROOF_RECEIVER_DIR ?? fileURLToPath(new URL("../../apps/receiver", import.meta.url))

/** The postback secret and admin token every suite's receivers use. */
export const SECRET = "proof-secret-0123456789abcdef"
export const ADMIN_TOKEN = "proof-admin-token-0123456789abcdef"

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released), so restarts keep one URL. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A fresh temporary folder (a receiver data folder, a cluster's home). */
export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `proof-${prefix}-`))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Settings of a receiver process; see the settings table of `apps/receiver/README.md`. */
export interface ReceiverSettings {
  /** Environment over the defaults below (`DATABASE_URL`, `RECEIVER_DATA_DIR`, timeouts, ...). */
  readonly env: Readonly<Record<string, string>>
  /** Extra Node options before the entry point (`--expose-gc`, `--import <hook>`). */
  readonly nodeArgs?: ReadonlyArray<string>
  /** The port to listen on; kept across restarts (default: a free one, chosen once). */
  readonly port?: number
}

/**
 * One receiver, run as its own process (`node --conditions=@org/source
 * --import tsx src/main.ts serve` in `apps/receiver`, the way the receiver's
 * own tests start it), on one port across restarts. The last 64 KiB of its
 * output are kept for a failure's report. Logs are at `Warning` unless the
 * settings say otherwise: a delivery line per request would cost the load
 * generator, on the same cores, more than the receiver.
 */
export class Receiver {
  private child: ChildProcess | undefined
  private exited: Promise<number | string> | undefined
  private tail = ""
  /** Starts so far (the first included). */
  starts = 0
  /** Exits nobody asked for (a crash): the exit code or signal and the output before it. */
  readonly crashes: Array<{ readonly exit: number | string; readonly output: string }> = []
  /** Starts that ended before the process was up (a database that is down at start): not crashes. */
  startFailures = 0
  private stopping = false
  private starting = false
  readonly port: number

  /** The data folder (`RECEIVER_DATA_DIR`): the settings' own, or a temporary one made once and removed by {@link Receiver.remove}. */
  readonly dataDir: string

  private constructor(
    private readonly settings: ReceiverSettings,
    port: number
  ) {
    this.port = port
    this.dataDir = settings.env.RECEIVER_DATA_DIR ?? tempDir("data")
  }

  /** A receiver on `settings.port` or a free port; not started yet. */
  static async make(settings: ReceiverSettings): Promise<Receiver> {
    return new Receiver(settings, settings.port ?? (await freePort()))
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** The postback URL with the secret (`/postbacks?secret=...`). */
  get postbackUrl(): string {
    return `${this.baseUrl}/postbacks?secret=${SECRET}`
  }

  /** The process id while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    )
  }

  /** The last output (standard output and error) of the current or last process. */
  output(): string {
    return this.tail
  }

  /**
   * Starts the process and resolves once `GET /healthz` answers `200`
   * (migrations done, listening). Rejects, with the output, when it exits
   * first or is not up within `timeoutMs`.
   */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.running) throw new Error("receiver already running")
    this.tail = ""
    const child = spawn(
      process.execPath,
      [
        ...(this.settings.nodeArgs ?? []),
        "--conditions=@org/source",
        "--import",
        "tsx",
        "src/main.ts",
        "serve"
      ],
      {
        cwd: receiverDir,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          HOST: "127.0.0.1",
          POSTBACK_SECRET: SECRET,
          ADMIN_TOKEN,
          POINTS_PER_USD: "10",
          LOG_FORMAT: "logfmt",
          LOG_LEVEL: "Warning",
          WORKER_POLL_MS: "200",
          WORKER_LEASE_SECONDS: "2",
          WORKER_RETRY_BASE_MS: "100",
          WORKER_RETRY_CAP_MS: "1000",
          ...this.settings.env,
          RECEIVER_DATA_DIR: this.dataDir,
          PORT: String(this.port)
        },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    this.child = child
    this.starts++
    const onData = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-65_536)
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    this.stopping = false
    this.exited = new Promise((done) =>
      child.once("exit", (code, signal) => {
        const exit = code ?? signal ?? "unknown"
        if (this.starting) this.startFailures++
        else if (!this.stopping) this.crashes.push({ exit, output: this.tail.slice(-4_000) })
        done(exit)
      })
    )
    this.starting = true
    try {
      await this.waitUntilUp(child, timeoutMs)
    } finally {
      this.starting = false
    }
  }

  private async waitUntilUp(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`receiver exited (${await this.exited}) before it was up:\n${this.tail}`)
      }
      try {
        const response = await fetch(`${this.baseUrl}/healthz`, {
          signal: AbortSignal.timeout(2_000)
        })
        await response.arrayBuffer()
        if (response.status === 200) return
      } catch {
        // not listening yet
      }
      await sleep(100)
    }
    this.stopping = true
    child.kill("SIGKILL")
    throw new Error(`receiver was not up within ${timeoutMs} ms:\n${this.tail}`)
  }

  /** Sends `signal` and resolves with the exit code or signal name once the process is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | string> {
    if (this.child === undefined || this.exited === undefined) return "not started"
    if (this.running) {
      this.stopping = true
      this.child.kill(signal)
    }
    return this.exited
  }

  /** `SIGKILL`: no shutdown of any kind, as a power cut or the OOM killer. */
  kill(): Promise<number | string> {
    return this.stop("SIGKILL")
  }

  /** Kills the process (if it runs) and removes the data folder, given or made: the end of a suite. */
  async remove(): Promise<void> {
    await this.kill()
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  /** Sends a signal without waiting (the heap hook's `SIGUSR2`). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child?.kill(signal)
  }
}

/**
 * Restarts any of `receivers` that exited by itself (each such exit stays
 * in its `crashes`, a violation), as a process manager would, so that a
 * suite still reaches its end state after a crash. `stop()` ends the watch.
 */
export const watchdog = (receivers: ReadonlyArray<Receiver>): { stop: () => Promise<void> } => {
  let watching = true
  const restarted = new Map<Receiver, number>()
  const loop = (async () => {
    while (watching) {
      for (const receiver of receivers) {
        const seen = restarted.get(receiver) ?? 0
        if (receiver.crashes.length > seen && !receiver.running) {
          try {
            await receiver.start()
            restarted.set(receiver, receiver.crashes.length)
          } catch {
            // not up (its database may be away): tried again on the next round
          }
        }
      }
      await sleep(200)
    }
  })()
  return {
    stop: async () => {
      watching = false
      await loop
    }
  }
}
