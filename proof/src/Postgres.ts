import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import postgres from "postgres"
import { freePort, tempDir } from "./Receiver.ts"

const run = promisify(execFile)

/**
 * The PostgreSQL server the crash, storm, fuzz and benchmark suites create
 * their databases on: `PROOF_DATABASE_URL`, else `TEST_DATABASE_URL` (the
 * receiver's tests' server), else `postgres://postgres@127.0.0.1:5432/postgres`.
 */
export const serverUrl = (): string =>
  process.env.PROOF_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres"

const withDatabase = (url: string, name: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${name}`
  return parsed.toString()
}

/** A database of its own on a server: `url`, and `drop()` to remove it (connections included). */
export interface OwnDatabase {
  readonly url: string
  readonly drop: () => Promise<void>
}

/** Creates an empty database `proof_<random>` on the server at `baseUrl` (the receiver migrates it at start). */
export const createDatabase = async (baseUrl: string = serverUrl()): Promise<OwnDatabase> => {
  const name = `proof_${randomUUID().replaceAll("-", "").slice(0, 16)}`
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  return {
    url: withDatabase(baseUrl, name),
    drop: async () => {
      const again = postgres(baseUrl, { max: 1, onnotice: () => {} })
      try {
        await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await again.end()
      }
    }
  }
}

/**
 * The folder of PostgreSQL's server binaries: `PROOF_PG_BIN`, else the
 * newest `/usr/lib/postgresql/<version>/bin` (Debian's layout), else the
 * `PATH`.
 */
export const postgresBin = (): string => {
  if (process.env.PROOF_PG_BIN !== undefined) return process.env.PROOF_PG_BIN
  const root = "/usr/lib/postgresql"
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0] !== undefined) return join(root, versions[0], "bin")
  }
  return ""
}

/** How `pg_ctl stop` ends the server: `fast` (clean) or `immediate` (crash recovery at next start). */
export type StopMode = "fast" | "immediate"

/**
 * A PostgreSQL cluster of its own (`initdb` in a temporary folder, one free
 * port on 127.0.0.1, `pg_ctl`), so that a suite can stop and freeze its
 * database without touching any other server. As root, every command runs
 * as the `postgres` user (`runuser -u postgres --`) in a folder that user
 * owns; as any other user, as that user.
 */
export class Cluster {
  private constructor(
    readonly home: string,
    readonly port: number,
    private readonly bin: string
  ) {}

  private get data(): string {
    return join(this.home, "data")
  }

  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  private async pg(command: string, args: ReadonlyArray<string>): Promise<string> {
    const tool = this.bin === "" ? command : join(this.bin, command)
    const asRoot = process.getuid?.() === 0
    const [file, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", tool, ...args]]
      : [tool, [...args]]
    const { stdout } = await run(file, argv, { cwd: this.home, maxBuffer: 16 * 1024 * 1024 })
    return stdout
  }

  /** `initdb` (trust authentication, no fsync at init) and a first start. */
  static async create(): Promise<Cluster> {
    const home = tempDir("pg")
    if (process.getuid?.() === 0) {
      const { stdout } = await run("id", ["-u", "postgres"])
      const { stdout: gid } = await run("id", ["-g", "postgres"])
      chownSync(home, Number(stdout.trim()), Number(gid.trim()))
    }
    const cluster = new Cluster(home, await freePort(), postgresBin())
    await cluster.pg("initdb", [
      "-D",
      cluster.data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C"
    ])
    await cluster.start()
    return cluster
  }

  /** `pg_ctl start -w`: resolves when the server accepts connections. */
  async start(): Promise<void> {
    await this.pg("pg_ctl", [
      "-D",
      this.data,
      "-l",
      join(this.home, "server.log"),
      "-w",
      "-t",
      "120",
      "-o",
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.home} -c max_connections=200`,
      "start"
    ])
  }

  /** `pg_ctl stop -m <mode> -w`. */
  async stop(mode: StopMode): Promise<void> {
    await this.pg("pg_ctl", ["-D", this.data, "-m", mode, "-w", "-t", "120", "stop"])
  }

  /** The postmaster and every process it started. */
  private processes(): Array<number> {
    const pidFile = join(this.data, "postmaster.pid")
    if (!existsSync(pidFile)) return []
    const postmaster = Number(readFileSync(pidFile, "utf8").split("\n")[0])
    const children: Array<number> = []
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
        // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
        if (ppid === postmaster) children.push(Number(entry))
      } catch {
        // the process ended while we looked
      }
    }
    return [postmaster, ...children]
  }

  /**
   * Freezes the server: `SIGSTOP` to the postmaster first (so it starts
   * nothing new), then to each backend. Connections stay open and nothing
   * answers, the way a stalled disk or a paused VM looks to a client.
   * Returns how many processes were stopped.
   */
  freeze(): number {
    const pids = this.processes()
    for (const pid of pids) process.kill(pid, "SIGSTOP")
    return pids.length
  }

  /** Undoes {@link Cluster.freeze}: `SIGCONT` to the backends, then the postmaster. */
  thaw(): void {
    for (const pid of this.processes().reverse()) process.kill(pid, "SIGCONT")
  }

  /** Stops the server (immediate) and removes its folder. */
  async remove(): Promise<void> {
    try {
      this.thaw()
      await this.stop("immediate")
    } catch {
      // already stopped
    }
    rmSync(this.home, { recursive: true, force: true })
  }
}
