import {
  Config,
  Context,
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
const consoleJson: Logger.Logger<unknown, void> = Logger.formatStructured.pipe(
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
  ),
  Logger.withConsoleLog
)

/**
 * Structured logs: `LOG_FORMAT` = `pretty` (the default when standard output
 * is a terminal), `logfmt` (the default otherwise) or `json` (one object per
 * line, for log shippers); `LOG_LEVEL` = `All`, `Debug`, `Info` (default),
 * `Warning`, `Error`, `None`. The ingest route logs only problems (sampled,
 * with counts), the worker one line per settled postback; secrets are never
 * logged.
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
      format === "json"
        ? consoleJson
        : format === "pretty"
          ? Logger.consolePretty()
          : Logger.consoleLogFmt
    return Layer.mergeAll(
      Logger.layer([logger]),
      Layer.succeed(References.MinimumLogLevel, LEVELS[level]),
      Layer.succeed(LogOutput, { format, terminal })
    )
  })
)
