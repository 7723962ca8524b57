import { resolve } from "node:path"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { ReceiverConfig } from "../Config.ts"
import { lockSpoolDir } from "./Lock.ts"
import { inspectJournal, type SegmentReport, skipDamage } from "./Repair.ts"

/** A spool command failed: no `SPOOL_DIR`, the folder in use, nothing to skip. */
export class SpoolCommandError extends Error {
  override readonly name: string = "SpoolCommandError"
}

/**
 * Runs `f` on `SPOOL_DIR` under its lock: a running receiver holds it, so
 * a journal is never changed (nor read half-written) under it.
 */
const withSpoolDir = <A>(f: (dir: string) => A) =>
  Effect.gen(function* () {
    const config = yield* ReceiverConfig
    if (Option.isNone(config.spoolDir)) {
      return yield* Effect.fail(
        new SpoolCommandError("SPOOL_DIR is not set: give the folder of the spool to look at")
      )
    }
    const dir = resolve(config.spoolDir.value)
    return yield* Effect.acquireUseRelease(
      Effect.tryPromise({
        try: () =>
          lockSpoolDir(dir, () => {
            // A command holds the lock for milliseconds; losing it cannot happen in time to matter.
          }),
        catch: (error) =>
          new SpoolCommandError(
            `${error instanceof Error ? error.message : String(error)}; stop the receiver first`
          )
      }),
      () =>
        Effect.try({
          try: () => f(dir),
          catch: (error) =>
            new SpoolCommandError(error instanceof Error ? error.message : String(error))
        }),
      (release) => Effect.promise(() => release().catch(() => {}))
    )
  }).pipe(Effect.provide(ReceiverConfig.layer))

const describeSegment = (segment: SegmentReport): string => {
  const head = `segment ${segment.seq} (${segment.file}): ${segment.entries} postbacks, ${segment.bytes} bytes${segment.oldest === null ? "" : `, received ${segment.oldest} to ${segment.newest}`}`
  const damage = segment.damaged.map(
    (d) =>
      `\n  damaged at offset ${d.offset}, ${d.bytes} bytes: ${d.reason}${d.entriesFollow ? "" : " (the end of the file: cut away as a torn write at the next start)"}; skip with: receiver spool skip --segment ${segment.seq} --offset ${d.offset}`
  )
  return head + damage.join("")
}

const inspect = Command.make("inspect", {}, () =>
  withSpoolDir((dir) => inspectJournal(dir)).pipe(
    Effect.flatMap((segments) => {
      const entries = segments.reduce((n, s) => n + s.entries, 0)
      const lines = segments.map(describeSegment)
      const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`
      process.stdout.write(
        `${lines.join("\n")}${lines.length > 0 ? "\n" : ""}${plural(entries, "postback", "postbacks")} in ${plural(segments.length, "segment", "segments")}\n`
      )
      const damaged = segments.reduce((n, s) => n + s.damaged.length, 0)
      // Damage is a failure of the command (exit code 1), so that a script sees it.
      return damaged === 0
        ? Effect.void
        : Effect.fail(
            new SpoolCommandError(
              `the journal has ${plural(damaged, "damaged region", "damaged regions")}: replay stops at the first; skip each with the command shown (the bytes are kept beside the segment)`
            )
          )
    })
  )
).pipe(
  Command.withDescription(
    "List the spool's segments (SPOOL_DIR): postbacks, bytes, receipt times, and every damaged region with the command that skips it"
  )
)

const skip = Command.make(
  "skip",
  {
    segment: Flag.Int("segment").pipe(Flag.withDescription("The segment's number (spool-N.log)")),
    offset: Flag.Int("offset").pipe(
      Flag.withDescription("Where its damaged region starts, in bytes (see receiver spool inspect)")
    )
  },
  (flags) =>
    withSpoolDir((dir) => skipDamage(dir, flags.segment, flags.offset)).pipe(
      Effect.flatMap(({ keptAs, bytes }) =>
        Effect.sync(() => {
          process.stdout.write(
            `removed ${bytes} damaged bytes at offset ${flags.offset} of segment ${flags.segment}; they are kept in ${keptAs}\n`
          )
        })
      )
    )
).pipe(
  Command.withDescription(
    "Remove one damaged region of a spool segment by hand (its bytes kept beside the journal), so that replay goes past it; the receiver must be stopped"
  )
)

/** `receiver spool inspect` and `receiver spool skip --segment N --offset O`. */
export const spoolCommand = Command.make("spool").pipe(
  Command.withDescription("Look at the local spool (SPOOL_DIR) and repair it by hand"),
  Command.withSubcommands([inspect, skip])
)
