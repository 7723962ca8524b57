/** A short, readable rendering of a refused value for error messages. */
export const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "function") return "a function"
  if (value instanceof URL) return JSON.stringify(value.href)
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (typeof value === "object" && value !== null) {
    try {
      const text = JSON.stringify(value)
      return text.length > 80 ? `${text.slice(0, 77)}...` : text
    } catch {
      return "an object"
    }
  }
  return String(value)
}

/** The record behind an options argument, or a `TypeError` naming `where`. */
export const optionsRecord = (
  options: unknown,
  where: string,
  known: ReadonlyArray<string>,
  noun = "option"
): Readonly<Record<string, unknown>> => {
  if (options === undefined) return {}
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: ${noun}s must be an object, got ${show(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${where}: unknown ${noun} ${JSON.stringify(key)} (known ${noun}s: ${known.join(", ")})`
      )
    }
  }
  return options as Record<string, unknown>
}

/** The largest delay `setTimeout` honours (about 24.8 days). */
export const MAX_TIMER_MILLIS: number = 2 ** 31 - 1

/** A whole number in `[min, max]`, or a `RangeError` naming the option. */
export const wholeNumber = (
  value: unknown,
  option: string,
  min: number,
  max: number,
  unit = ""
): number => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${option} must be a whole number${unit} from ${min} to ${max}, got ${show(value)}`
    )
  }
  return value
}

/** A finite number above 0, or a `RangeError` naming the option. */
export const positiveNumber = (value: unknown, option: string, max = Number.MAX_VALUE): number => {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new RangeError(
      `${option} must be a finite number above 0${max === Number.MAX_VALUE ? "" : ` and at most ${max}`}, got ${show(value)}`
    )
  }
  return value
}

/** A function, or a `TypeError` naming the option. */
export const functionOption = <F>(value: unknown, option: string): F => {
  if (typeof value !== "function") {
    throw new TypeError(`${option} must be a function, got ${show(value)}`)
  }
  return value as F
}
