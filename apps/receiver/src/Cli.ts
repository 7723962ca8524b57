import { Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { printUrls } from "./Announce.ts"
import { ReceiverLive } from "./App.ts"
import { ReceiverConfig } from "./Config.ts"
import { Database } from "./Db/Database.ts"
import { LoggingLive } from "./Logging.ts"
import { reconcileCommand } from "./Reconcile/Command.ts"
import { Secrets } from "./Secrets.ts"
import { spoolCommand } from "./Spool/Command.ts"

const serveReceiver = Layer.launch(
  ReceiverLive.pipe(Layer.provide(ReceiverConfig.layer), Layer.provide(LoggingLive))
)

const serve = Command.make("serve", {}, () => serveReceiver).pipe(
  Command.withDescription("Start the receiver: HTTP ingest, worker and admin API (the default)")
)

const migrate = Command.make("migrate", {}, () =>
  Effect.gen(function* () {
    // Opening the database applies pending migrations (in a transaction,
    // under an advisory lock on PostgreSQL).
    yield* Database
    yield* Effect.logInfo("Database schema is up to date")
  }).pipe(
    Effect.provide(Database.layer.pipe(Layer.provide(ReceiverConfig.layer))),
    Effect.provide(LoggingLive)
  )
).pipe(Command.withDescription("Apply database migrations and exit"))

const urls = Command.make("urls", {}, () =>
  printUrls.pipe(Effect.provide(Secrets.layer.pipe(Layer.provideMerge(ReceiverConfig.layer))))
).pipe(
  Command.withDescription(
    "Print the postback URLs to paste into MomentScience (with the secret) and the admin token"
  )
)

export const receiver = Command.make("receiver", {}, () => serveReceiver).pipe(
  Command.withDescription("MomentScience postback receiver"),
  Command.withSubcommands([serve, migrate, urls, reconcileCommand, spoolCommand])
)

/** Runs the command line of this process (`receiver [serve|migrate|urls|reconcile|spool]`). */
export const run = Command.run(receiver, { version: "0.0.0" })
