#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit, Runtime } from "effect"
import { run } from "./Cli.ts"

/** A stop by SIGTERM or SIGINT is the graceful end of `serve`: exit code 0. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    ? onExit(0)
    : Runtime.defaultTeardown(exit, onExit)

run.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain({ teardown }))
