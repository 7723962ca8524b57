import { Logger, References } from "effect"

/** One log line as the receiver wrote it. */
export interface LogEntry {
  readonly level: string
  readonly message: unknown
  readonly annotations: Readonly<Record<string, unknown>>
}

/**
 * A logger that keeps every line in `entries` (in place of the console), for
 * tests that check what the receiver logs.
 */
export const captureLogs = () => {
  const entries: Array<LogEntry> = []
  const logger = Logger.make((options) => {
    const message = options.message
    entries.push({
      level: options.logLevel,
      message: Array.isArray(message) && message.length === 1 ? message[0] : message,
      annotations: options.fiber.getRef(References.CurrentLogAnnotations)
    })
  })
  return { entries, layer: Logger.layer([logger]) }
}
