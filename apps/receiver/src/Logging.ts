import { Config, Effect, Formatter, Layer, Logger, type LogLevel, References } from "effect"

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
 * Structured logs: `LOG_FORMAT` = `logfmt` (the default when output is not a
 * terminal), `json` (one object per line, for log shippers) or `pretty` (the
 * default on a terminal); `LOG_LEVEL` = `All`,
 * `Debug`, `Info` (default), `Warning`, `Error`, `None`. The ingest route logs
 * only problems (sampled, with counts); secrets are never logged.
 */
export const LoggingLive: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(
  Effect.gen(function* () {
    const level = yield* Config.Literals(
      Object.keys(LEVELS) as Array<keyof typeof LEVELS>,
      "LOG_LEVEL"
    ).pipe(Config.withDefault("Info" as const))
    const format = yield* Config.Literals(["logfmt", "json", "pretty"], "LOG_FORMAT").pipe(
      Config.withDefault("logfmt" as const)
    )
    const logger =
      format === "json"
        ? consoleJson
        : format === "pretty"
          ? Logger.consolePretty()
          : Logger.consoleLogFmt
    return Layer.merge(
      Logger.layer([logger]),
      Layer.succeed(References.MinimumLogLevel, LEVELS[level])
    )
  })
)
