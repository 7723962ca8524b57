#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Runtime } from "effect"
import { run } from "./Cli.ts"

/** A stop by SIGTERM or SIGINT is the graceful end of `serve`: exit code 0. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    ? onExit(0)
    : Runtime.defaultTeardown(exit, onExit)

/** An expected failure's own words: a `ConfigError` says which setting and why in its cause. */
const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    if ("_tag" in error && error._tag === "ConfigError" && "cause" in error) {
      return messageOf(error.cause)
    }
    if ("message" in error && typeof error.message === "string") return error.message
  }
  return String(error)
}

/**
 * Why the command failed, for a person: an expected failure (a setting, a
 * data folder in use, a database that cannot be reached) as its message
 * alone, one line each, since its stack would only hide it; anything else
 * (a defect) in full.
 */
const report = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.sync(() => {
    // The command line reports its own usage errors (and `--help`).
    if (Cause.hasInterruptsOnly(cause) || !Runtime.getErrorReported(Cause.squash(cause))) return
    const lines = cause.reasons.flatMap((reason) =>
      reason._tag === "Fail"
        ? [`receiver: ${messageOf(reason.error)}`]
        : reason._tag === "Die"
          ? [Cause.pretty(Cause.die(reason.defect))]
          : []
    )
    process.stderr.write(`${lines.join("\n")}\n`)
  })

run.pipe(
  Effect.tapCause(report),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown, disableErrorReporting: true })
)
