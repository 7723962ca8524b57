import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { resolve } from "node:path"
import lockfile from "proper-lockfile"

/** Who holds a data folder, as its holder wrote it down. */
interface Holder {
  readonly pid: number
  readonly hostname: string
  readonly since: string
}

// The holder refreshes the lock's mtime every UPDATE_MS; a lock not refreshed
// for STALE_MS is stale (its process was killed, or its machine is gone) and
// may be taken over; when the holder it names is known dead (a process of
// this machine that no longer runs), after DEAD_HOLDER_STALE_MS already.
const STALE_MS = 10_000
const DEAD_HOLDER_STALE_MS = 3_000
const UPDATE_MS = 1_000

const readHolder = (path: string): Holder | undefined => {
  try {
    const holder = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder>
    return typeof holder.pid === "number" && typeof holder.hostname === "string"
      ? { pid: holder.pid, hostname: holder.hostname, since: String(holder.since ?? "") }
      : undefined
  } catch {
    return undefined
  }
}

/** Whether `holder` runs: a process of another machine cannot be asked. */
const holderState = (holder: Holder): "running" | "dead" | "unknown" => {
  if (holder.hostname !== hostname()) return "unknown"
  // A container restarted under the same pid: the holder was this pid's predecessor.
  if (holder.pid === process.pid) return "dead"
  try {
    process.kill(holder.pid, 0)
    return "running"
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? "running" : "dead"
  }
}

const inUse = (dataDir: string, holder: Holder | undefined): Error =>
  new Error(
    `RECEIVER_DATA_DIR ${dataDir} is in use by another receiver (${
      holder === undefined
        ? "its process id is not known yet"
        : `pid ${holder.pid} on ${holder.hostname}${holder.since === "" ? "" : `, since ${holder.since}`}`
    }): the embedded database (PGlite) can be opened by one process at a time. Stop that process, give this one another RECEIVER_DATA_DIR, or set DATABASE_URL to run several receivers on one PostgreSQL`
  )

const isLocked = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === "ELOCKED"

/**
 * Takes the embedded database's data folder for this process, or fails at
 * once naming the folder and the process that holds it. PGlite is one
 * PostgreSQL instance inside this process: a second process on the same
 * files would overwrite the first one's data.
 *
 * The lock is proper-lockfile's (an atomic `mkdir`, its mtime refreshed while
 * held); beside it the holder writes its pid, only to name it in the error
 * and to tell a running holder (fail at once) from a killed one (wait until
 * its lock goes stale, 3 s after its last refresh, then take the folder
 * over; 10 s when the holder cannot be asked).
 *
 * `onLost` is called if another process takes the lock over while this one
 * still holds it (its refreshes stopped for longer than the stale period):
 * the caller must stop using the folder.
 *
 * Resolves with the release.
 */
export const lockDataDir = async (
  dataDir: string,
  folder: string,
  onLost: (error: Error) => void
): Promise<() => Promise<void>> => {
  const lockfilePath = resolve(`${folder}.lock`)
  const holderPath = resolve(`${folder}.lock.holder`)
  const options = {
    realpath: false,
    lockfilePath,
    stale: STALE_MS,
    update: UPDATE_MS,
    onCompromised: onLost
  }
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(folder, options)
  } catch (error) {
    if (!isLocked(error)) throw error
    const holder = readHolder(holderPath)
    const state = holder === undefined ? "unknown" : holderState(holder)
    if (state === "running") throw inUse(dataDir, holder)
    // The holder was killed (or runs elsewhere, or has not written its pid
    // yet): wait until its lock has not been refreshed for the stale period,
    // then take it. A live holder keeps refreshing it, so this still fails
    // for a folder in use.
    const stale = state === "dead" ? DEAD_HOLDER_STALE_MS : STALE_MS
    try {
      release = await lockfile.lock(folder, {
        ...options,
        stale,
        retries: { retries: Math.ceil((stale + UPDATE_MS) / 250), factor: 1, minTimeout: 250 }
      })
    } catch (again) {
      throw isLocked(again) ? inUse(dataDir, readHolder(holderPath)) : again
    }
  }
  writeFileSync(
    holderPath,
    JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString() })
  )
  return async () => {
    // The holder file goes first, while the folder is still ours: the next
    // holder writes its own.
    rmSync(holderPath, { force: true })
    await release()
  }
}
