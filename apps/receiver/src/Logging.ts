import {
  Config,
  Context,
  Duration,
  Effect,
  Formatter,
  Layer,
  Logger,
  type LogLevel,
  References
} from "effect"

/** `LOG_LEVEL` names; `Warning` is the documented name of the `Warn` level. */
const LEVELS = {
  All: "All",
  Fatal: "Fatal",
  Error: "Error",
  Warning: "Warn",
  Warn: "Warn",
  Info: "Info",
  Debug: "Debug",
  Trace: "Trace",
  None: "None"
} as const satisfies Record<string, LogLevel.LogLevel>

export type LogFormat = "pretty" | "logfmt" | "json"

/**
 * Where log lines go: their format, and whether standard output is a
 * terminal. Only `pretty` output to a terminal is read by a person alone;
 * `logfmt` and `json` are collected by machines, so nothing written in them
 * may hold a secret (the start-up announcement checks this).
 */
export interface LogOutputShape {
  readonly format: LogFormat
  readonly terminal: boolean
}

export const LogOutput: Context.Reference<LogOutputShape> = Context.Reference<LogOutputShape>(
  "@org/receiver/LogOutput",
  // Without LoggingLive (tests, embedding) assume the output is collected.
  { defaultValue: () => ({ format: "logfmt", terminal: false }) }
)

/** `LOG_FORMAT` when set; otherwise `pretty` on a terminal and `logfmt` elsewhere. */
export const logFormat = (terminal: boolean): Config.Config<LogFormat> =>
  Config.Literals(["logfmt", "json", "pretty"], "LOG_FORMAT").pipe(
    Config.withDefault<LogFormat>(terminal ? "pretty" : "logfmt")
  )

/**
 * One JSON object per line, with the keys log shippers are set up for:
 * `message`, `logLevel`, `timestamp`, `cause` (when there is one),
 * `annotations`, `spans`, `fiberId`.
 */
const formatJsonLine: Logger.Logger<unknown, string> = Logger.formatStructured.pipe(
  Logger.map(({ message, level, timestamp, cause, annotations, spans, fiberId }) =>
    Formatter.formatJson({
      message,
      logLevel: level,
      timestamp,
      cause,
      annotations,
      spans,
      fiberId
    })
  )
)

/**
 * How long machine-read lines (`logfmt`, `json`) wait to be written together:
 * the ingest route logs a line per delivery, and one `write` for all the
 * lines of a few milliseconds costs a fraction of one system call per line.
 * A process killed with `SIGKILL` loses at most this much of its log (the
 * delivery log in the database has every delivery); on a normal exit, and
 * when the start fails, the remaining lines are written first.
 */
export const LOG_BATCH_WINDOW_MS = 20

/** Writes a batch of formatted lines to standard output in one `write`. */
const writeLines = (lines: ReadonlyArray<string>) =>
  Effect.sync(() => {
    process.stdout.write(`${lines.join("\n")}\n`)
  })

/**
 * Structured logs: `LOG_FORMAT` = `pretty` (the default when standard output
 * is a terminal), `logfmt` (the default otherwise) or `json` (one object per
 * line, for log shippers); `LOG_LEVEL` = `All`, `Debug`, `Info` (default),
 * `Warning`, `Error`, `None`. The ingest route logs one line per delivery,
 * the worker one per settled postback; secrets are never logged. `logfmt`
 * and `json` lines are written in batches (`LOG_BATCH_WINDOW_MS`, with
 * Effect's `Logger.batched`); `pretty` lines, for a person at a terminal, at
 * once.
 */
export const LoggingLive: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(
  Effect.gen(function* () {
    const level = yield* Config.Literals(
      Object.keys(LEVELS) as Array<keyof typeof LEVELS>,
      "LOG_LEVEL"
    ).pipe(Config.withDefault("Info" as const))
    const terminal = process.stdout.isTTY === true
    const format = yield* logFormat(terminal)
    const logger =
      format === "pretty"
        ? Logger.consolePretty()
        : yield* Logger.batched(format === "json" ? formatJsonLine : Logger.formatLogFmt, {
            window: Duration.millis(LOG_BATCH_WINDOW_MS),
            flush: writeLines
          })
    return Layer.mergeAll(
      Logger.layer([logger]),
      Layer.succeed(References.MinimumLogLevel, LEVELS[level]),
      Layer.succeed(LogOutput, { format, terminal })
    )
  })
)
