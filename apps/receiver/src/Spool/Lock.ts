import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { lockDataDir } from "../Db/DataDirLock.ts"

/**
 * Takes `SPOOL_DIR` for this process (`journal.lock` and
 * `journal.lock.holder` inside it), or fails at once naming the folder and
 * the process that holds it: two processes appending to one journal would
 * interleave their writes, and each would replay and delete the other's
 * segments. The lock is the embedded database's ({@link lockDataDir}): a
 * holder killed without cleaning up is taken over 3 s after its last sign
 * of life (10 s when it ran on another machine). `onLost` is called if
 * another process takes the folder over while this one holds it. Resolves
 * with the release.
 */
export const lockSpoolDir = async (
  dir: string,
  onLost: (error: Error) => void
): Promise<() => Promise<void>> => {
  mkdirSync(dir, { recursive: true })
  try {
    return await lockDataDir(resolve(dir), join(resolve(dir), "journal"), onLost)
  } catch (error) {
    const held = /in use by another receiver \(([^)]*)\)/.exec(
      error instanceof Error ? error.message : ""
    )
    if (held === null) throw error
    throw new Error(
      `SPOOL_DIR ${resolve(dir)} is in use by another receiver (${held[1]}): a spool belongs to one process. Stop that process, or give each receiver its own SPOOL_DIR`
    )
  }
}
