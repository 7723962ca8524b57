/** A command line that cannot be run; the CLI prints it with the usage and exits with 2. */
export class UsageError extends Error {
  override readonly name: "UsageError" = "UsageError"
}

/** A flag of a command: whether it takes a value and may be repeated. */
export interface FlagSpec {
  readonly value: boolean
  readonly repeat?: boolean
}

export interface ParsedArgs {
  readonly positionals: ReadonlyArray<string>
  /** Values of the flags given, in order (one for non-repeated flags). */
  readonly values: ReadonlyMap<string, ReadonlyArray<string>>
  /** Flags without a value that were given. */
  readonly switches: ReadonlySet<string>
}

/**
 * A small strict parser: `--name value`, `--name=value`, `--switch`, `--`
 * ending the flags, `-h` for `--help`. Unknown flags, a missing value, a
 * value on a switch and a repeated flag are errors naming the flag.
 */
export const parseArgs = (
  args: ReadonlyArray<string>,
  flags: Readonly<Record<string, FlagSpec>>
): ParsedArgs => {
  const positionals: Array<string> = []
  const values = new Map<string, Array<string>>()
  const switches = new Set<string>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      positionals.push(...args.slice(i + 1))
      break
    }
    if (arg === "-h") {
      switches.add("help")
      continue
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-") && arg.length > 1) {
        throw new UsageError(`unknown option ${arg}`)
      }
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf("=")
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    if (name === "help" && eq < 0) {
      switches.add("help")
      continue
    }
    const spec = flags[name]
    if (spec === undefined) throw new UsageError(`unknown option --${name}`)
    if (!spec.value) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value, got ${JSON.stringify(arg)}`)
      if (switches.has(name)) throw new UsageError(`--${name} is given twice`)
      switches.add(name)
      continue
    }
    let value: string
    if (eq >= 0) value = arg.slice(eq + 1)
    else {
      const next = args[i + 1]
      if (next === undefined) throw new UsageError(`--${name} needs a value`)
      value = next
      i++
    }
    const seen = values.get(name)
    if (seen === undefined) values.set(name, [value])
    else if (spec.repeat) seen.push(value)
    else throw new UsageError(`--${name} is given twice`)
  }
  return { positionals, values, switches }
}

/** The value of a non-repeated flag. */
export const flagValue = (parsed: ParsedArgs, name: string): string | undefined =>
  parsed.values.get(name)?.[0]

/** A number flag: finite and above 0 (or at least `min`), at most `max`. */
export const numberFlag = (
  parsed: ParsedArgs,
  name: string,
  options: { readonly min?: number; readonly max?: number; readonly integer?: boolean } = {}
): number | undefined => {
  const text = flagValue(parsed, name)
  if (text === undefined) return undefined
  const n = text.trim() === "" ? Number.NaN : Number(text)
  const { min, max = Number.MAX_SAFE_INTEGER, integer = false } = options
  const ok =
    Number.isFinite(n) &&
    (min === undefined ? n > 0 : n >= min) &&
    n <= max &&
    (!integer || Number.isInteger(n))
  if (!ok) {
    const kind = integer ? "a whole number" : "a number"
    const bounded = max !== Number.MAX_SAFE_INTEGER
    const range =
      min === undefined
        ? `above 0${bounded ? ` and at most ${max}` : ""}`
        : bounded
          ? `from ${min} to ${max}`
          : `of at least ${min}`
    throw new UsageError(`--${name} must be ${kind} ${range}, got ${JSON.stringify(text)}`)
  }
  return n
}

/** A share: `0.1` or `10%`, from 0 to below 1. */
export const shareFlag = (parsed: ParsedArgs, name: string): number | undefined => {
  const text = flagValue(parsed, name)
  if (text === undefined) return undefined
  const trimmed = text.trim()
  const percent = trimmed.endsWith("%")
  const n = Number(percent ? trimmed.slice(0, -1) : trimmed)
  const share = percent ? n / 100 : n
  if (trimmed === "" || trimmed === "%" || !Number.isFinite(share) || share < 0 || share >= 1) {
    throw new UsageError(
      `--${name} must be a share from 0 to below 1, such as 0.1 or 10%, got ${JSON.stringify(text)}`
    )
  }
  return share
}

/** One of the given words (case-insensitive). */
export const choiceFlag = <A extends string>(
  parsed: ParsedArgs,
  name: string,
  choices: ReadonlyArray<A>
): A | undefined => {
  const text = flagValue(parsed, name)
  if (text === undefined) return undefined
  const found = choices.find((c) => c === text.toLowerCase())
  if (found === undefined) {
    throw new UsageError(`--${name} must be ${choices.join(" or ")}, got ${JSON.stringify(text)}`)
  }
  return found
}
