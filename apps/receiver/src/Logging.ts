import { Config, type ConfigError, Effect, Layer, Logger, LogLevel } from "effect"

/**
 * Structured logs: `LOG_FORMAT` = `logfmt` (the default when output is not a
 * terminal), `json` (one object per line, for log shippers) or `pretty` (the
 * default on a terminal); `LOG_LEVEL` = `All`,
 * `Debug`, `Info` (default), `Warning`, `Error`, `None`. The ingest route logs
 * only problems (sampled, with counts); secrets are never logged.
 */
export const LoggingLive: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const level = yield* Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
    const format = yield* Config.literal(
      "logfmt",
      "json",
      "pretty"
    )("LOG_FORMAT").pipe(Config.withDefault("logfmt" as const))
    const logger =
      format === "json" ? Logger.json : format === "pretty" ? Logger.pretty : Logger.logFmt
    return Layer.merge(logger, Logger.minimumLogLevel(level))
  })
)
