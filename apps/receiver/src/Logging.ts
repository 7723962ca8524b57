import { timestampText } from "@org/postback-schema"
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
export const formatJsonLine: Logger.Logger<unknown, string> = Logger.formatStructured.pipe(
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

/**
 * Lines waiting to be written to standard output, in the order they were
 * logged, written in one `write` `LOG_BATCH_WINDOW_MS` after the first, when
 * the logging layer closes, and at the latest when the process exits.
 */
const makeLineSink = () => {
  let lines: Array<string> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (lines.length === 0) return
    const out = `${lines.join("\n")}\n`
    lines = []
    process.stdout.write(out)
  }
  const push = (line: string) => {
    lines.push(line)
    if (timer === undefined) {
      timer = setTimeout(flush, LOG_BATCH_WINDOW_MS)
      timer.unref()
    }
  }
  return { push, flush }
}

/**
 * Writes Info lines with fields, in the configured format, without running a
 * fiber: for the line logged per request (the ingest route's `Postback
 * delivery`), where Effect's logger (a fiber, its annotations, its formatter)
 * costs more than the rest of the line's work. The line is the one
 * `Effect.logInfo(message).pipe(Effect.annotateLogs(fields))` writes, the
 * fiber id left out, and it takes its place in the same ordered batch.
 * Provided by {@link LoggingLive} for `logfmt` and `json`; `undefined`
 * otherwise (a terminal's `pretty` output, tests with their own logger):
 * then log through Effect.
 */
export interface LineLoggerShape {
  readonly info: (message: string, fields: Readonly<Record<string, unknown>>) => void
}

export const LineLogger: Context.Reference<LineLoggerShape | undefined> = Context.Reference<
  LineLoggerShape | undefined
>("@org/receiver/LineLogger", { defaultValue: () => undefined })

// As Effect's logfmt formatter writes a value: text without spaces, quotes
// or `=` bare, anything else quoted as a JSON string; non-strings through
// Effect's Formatter.
const TEXT_ONLY = /^[^\s"=]*$/
const logfmtValue = (value: unknown): string => {
  const text =
    typeof value === "string"
      ? value
      : // What Formatter.format writes for these, without its generic walk.
        typeof value === "number" || typeof value === "boolean" || value === null
        ? String(value)
        : Formatter.format(value)
  return TEXT_ONLY.test(text) ? text : JSON.stringify(text)
}
const logfmtLabel = (key: string) => key.replace(/[\s="]/g, "_")

/** The line Effect's `Logger.formatLogFmt` writes for an Info line with these annotations, without `fiber`. */
export const logfmtLine = (
  date: Date,
  message: string,
  fields: Readonly<Record<string, unknown>>
): string => {
  let out = `timestamp=${timestampText(date)} level=INFO message=${logfmtValue(message)}`
  for (const key in fields) out += ` ${logfmtLabel(key)}=${logfmtValue(fields[key])}`
  return out
}

/** The line {@link formatJsonLine} writes for an Info line with these annotations, without `fiberId`. */
export const jsonLine = (
  date: Date,
  message: string,
  fields: Readonly<Record<string, unknown>>
): string =>
  Formatter.formatJson({
    message,
    logLevel: "INFO",
    timestamp: timestampText(date),
    annotations: fields,
    spans: {}
  })

/**
 * Structured logs: `LOG_FORMAT` = `pretty` (the default when standard output
 * is a terminal), `logfmt` (the default otherwise) or `json` (one object per
 * line, for log shippers); `LOG_LEVEL` = `All`, `Debug`, `Info` (default),
 * `Warning`, `Error`, `None`. The ingest route logs one line per delivery,
 * the worker one per settled postback; secrets are never logged. `logfmt`
 * and `json` lines are written in batches (`LOG_BATCH_WINDOW_MS`); `pretty`
 * lines, for a person at a terminal, at once.
 */
export const LoggingLive: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(
  Effect.gen(function* () {
    const level = yield* Config.Literals(
      Object.keys(LEVELS) as Array<keyof typeof LEVELS>,
      "LOG_LEVEL"
    ).pipe(Config.withDefault("Info" as const))
    const terminal = process.stdout.isTTY === true
    const format = yield* logFormat(terminal)
    const settings = Layer.mergeAll(
      Layer.succeed(References.MinimumLogLevel, LEVELS[level]),
      Layer.succeed(LogOutput, { format, terminal })
    )
    if (format === "pretty") {
      return Layer.mergeAll(Logger.layer([Logger.consolePretty()]), settings)
    }
    const sink = makeLineSink()
    yield* Effect.addFinalizer(() => Effect.sync(sink.flush))
    process.once("exit", sink.flush)
    const line = format === "json" ? jsonLine : logfmtLine
    const lineLogger: LineLoggerShape = {
      info: (message, fields) => sink.push(line(new Date(), message, fields))
    }
    return Layer.mergeAll(
      Logger.layer([
        (format === "json" ? formatJsonLine : Logger.formatLogFmt).pipe(Logger.map(sink.push))
      ]),
      Layer.succeed(LineLogger, lineLogger),
      settings
    )
  })
)
