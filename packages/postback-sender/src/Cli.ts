import { TemplateError } from "@org/postback-macros"
import { EXACTLY_200, type RetryPolicy, RetryPolicyError, retryPolicy } from "@org/postback-retry"
import {
  formatPostbackIssues,
  isWireField,
  type Postback,
  parsePostbackJson
} from "@org/postback-schema"
import { Effect, Fiber } from "effect"
import type { DeliveryReport } from "./DeliveryReport.ts"
import type { Endpoint } from "./Endpoint.ts"
import {
  choiceFlag,
  type FlagSpec,
  flagValue,
  numberFlag,
  type ParsedArgs,
  parseArgs,
  shareFlag,
  UsageError
} from "./internal/args.ts"
import { runPlain } from "./internal/deliver.ts"
import {
  attemptLine,
  attemptResult,
  bodyPreview,
  count,
  latencyLine,
  ms,
  requestLines,
  seconds,
  toJson
} from "./internal/format.ts"
import { redactUrl } from "./internal/redact.ts"
import { type LoadOptions, type LoadSummary, loadEffect } from "./Load.ts"
import { samplePostback } from "./SamplePostback.ts"
import {
  type DeliverOptions,
  type FetchLike,
  makeSender,
  SendError,
  type Sender
} from "./Sender.ts"

/** What the CLI needs from its runtime; the Node and Deno entry points wire these. */
export interface CliIo {
  /** Writes text (complete lines, each ending in `\n`) to standard output. */
  readonly stdout: (text: string) => void
  /** Writes text to standard error: progress, warnings, errors. */
  readonly stderr: (text: string) => void
  /** Reads a UTF-8 file (`replay`). */
  readonly readTextFile: (path: string) => Promise<string>
  /** The current time in epoch milliseconds, for the timestamps of sample and sent postbacks (default `Date.now`). */
  readonly now?: () => number
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: FetchLike
  /** Aborted on Ctrl-C: `load` stops and prints what it did; other commands stop. Exit code 130. */
  readonly signal?: AbortSignal
}

/** Exit codes of {@link runCli}. */
export const EXIT: {
  /** Every postback was delivered (`200`). */
  readonly ok: 0
  /** At least one delivery failed: another status, a timeout, a connection error. */
  readonly failed: 1
  /** The command line or an input file is wrong; nothing was sent. */
  readonly usage: 2
  /** Interrupted (Ctrl-C). */
  readonly interrupted: 130
} = { ok: 0, failed: 1, usage: 2, interrupted: 130 }

const HELP: Record<string, string> = {
  "": `postback: send MomentScience postbacks to an endpoint the way MomentScience does.

Usage:
  postback test <url> [--method post|get]     send one sample postback, like the dashboard's
  postback test --template <url-template>      "Test endpoint" button; PASS only on 200
  postback send <url> [field=value ...]        send the given fields, with MomentScience's retries
  postback replay <file.jsonl> <url>           send every postback of a file (one POST body per line)
  postback load <url> --rate N --duration S    generate load; print counts and latency percentiles
  postback help <command>                      options of a command

<url> gets POST JSON bodies by default, or GET query parameters with --method get;
--template <url-template> sends GET requests to a {macro} URL, e.g.
  "https://pub.example/pb?amount={payout}&uid={user_id}&oid={offer_id}"

Exit codes: 0 delivered (200), 1 a delivery failed, 2 bad command line or input, 130 interrupted.
`,
  test: `postback test <url> [options]
postback test --template <url-template> [options]

Sends one sample postback (offer 1511, payout 2.10, user_id 3410444, stamped now, not
LoyaltyBoost) once, and prints PASS when the answer is 200 OK, FAIL otherwise.

Options:
  --method post|get        POST a JSON body (default) or GET with query parameters
  --template <template>    GET a {macro} URL template instead of <url>
  --timeout <ms>           time allowed for the answer (default 10000)
  --header "Name: value"   an extra request header (repeatable)
  --json                   print the result as JSON
`,
  send: `postback send <url> [field=value ...] [options]

Sends one postback made of the given fields: offer_id, advertiser_name, payout,
timestamp, is_loyaltyboost, and any other name as a payload value (user_id=42).
timestamp defaults to now and is_loyaltyboost to 0. Retries as MomentScience does
(5 attempts, 60, 90, 120 and 150 s after each failure) unless --retry none.

Options:
  --body <json>            a POST body to start from ({"offer_id":"1511",...}); fields override it
  --method post|get        POST a JSON body (default) or GET with query parameters
  --template <template>    GET a {macro} URL template instead of <url>
  --retry momentscience|none   the retry policy (default momentscience)
  --time-scale <f>         multiply the retry delays (0.01: 420 s of retries in 4.2 s)
  --timeout <ms>           time allowed for each attempt (default 10000)
  --header "Name: value"   an extra request header (repeatable)
  --dry-run                print the request and send nothing
  --json                   print the delivery report as JSON
`,
  replay: `postback replay <file.jsonl> <url> [options]
postback replay <file.jsonl> --template <url-template> [options]

Sends every postback of a JSON Lines file: one POST body per line, as MomentScience
sends it ({"offer_id":"1511","payout":"2.10","timestamp":"...","is_loyaltyboost":"0",
"payload":{...}}). Blank lines are skipped. Every line is checked first; a bad line
stops the command before anything is sent. Each postback is retried as MomentScience does.

Options:
  --concurrency <n>        deliveries at a time (default 8)
  --method, --template, --retry, --time-scale, --timeout, --header   as for send
  --quiet                  no progress lines
  --json                   print the result of each line as JSON
`,
  load: `postback load <url> --rate <n> --duration <s> [options]
postback load --template <url-template> --rate <n> --duration <s> [options]

Starts <n> requests a second for <s> seconds whatever the answers (an open model),
each a distinct postback (offers, payouts, users vary) or, for a share of them,
a re-send of an earlier one as MomentScience's retries do. Prints sent, 200s,
non-200s, errors and exact latency percentiles; exits with 1 if any request was
not answered 200. Progress is printed every second on standard error.

Options:
  --rate <n>               requests started per second (required)
  --duration <s>           seconds to keep starting requests (required)
  --duplicates <p>         share of re-sent postbacks, 0.1 or 10% (default 0)
  --concurrency <n>        at most n requests in flight (default 100); late requests wait
  --users <n>              distinct user_id values (default 1000)
  --seed <n>               which earlier postbacks are re-sent (default 1)
  --method, --template, --timeout, --header   as for test
  --quiet                  no progress lines
  --json                   print the summary as JSON
`
}

const TARGET_FLAGS: Record<string, FlagSpec> = {
  method: { value: true },
  template: { value: true },
  timeout: { value: true },
  header: { value: true, repeat: true },
  json: { value: false }
}
const RETRY_FLAGS: Record<string, FlagSpec> = {
  retry: { value: true },
  "time-scale": { value: true }
}

/** Turns the library's checks of options and inputs into usage errors. */
const usage = <A>(f: () => A): A => {
  try {
    return f()
  } catch (error) {
    if (
      error instanceof TypeError ||
      error instanceof RangeError ||
      error instanceof TemplateError ||
      error instanceof RetryPolicyError
    ) {
      throw new UsageError(error.message)
    }
    throw error
  }
}

const endpointOf = (parsed: ParsedArgs, url: string | undefined): Endpoint => {
  const template = flagValue(parsed, "template")
  const method = choiceFlag(parsed, "method", ["post", "get"] as const)
  if (template !== undefined) {
    if (url !== undefined) {
      throw new UsageError(`give either <url> or --template, not both (got ${JSON.stringify(url)})`)
    }
    if (method === "post")
      throw new UsageError("--template sends GET requests; remove --method post")
    return { method: "GET", template }
  }
  if (url === undefined) throw new UsageError("<url> is required (or --template <url-template>)")
  return { method: method === "get" ? "GET" : "POST", url }
}

const headersOf = (parsed: ParsedArgs): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const text of parsed.values.get("header") ?? []) {
    const colon = text.indexOf(":")
    if (colon <= 0) {
      throw new UsageError(`--header must be "Name: value", got ${JSON.stringify(text)}`)
    }
    headers[text.slice(0, colon).trim()] = text.slice(colon + 1).trim()
  }
  return headers
}

const NO_RETRIES: RetryPolicy = retryPolicy({
  maxAttempts: 1,
  delaysSeconds: [],
  successStatuses: EXACTLY_200
})

const senderOptions = (parsed: ParsedArgs, io: CliIo, retries: boolean): DeliverOptions => {
  const timeoutMs = numberFlag(parsed, "timeout", { min: 1, max: 2 ** 31 - 1, integer: true })
  const options: {
    -readonly [K in keyof DeliverOptions]: DeliverOptions[K]
  } = { headers: headersOf(parsed) }
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs
  if (io.fetch !== undefined) options.fetch = io.fetch
  if (retries) {
    const retry = choiceFlag(parsed, "retry", ["momentscience", "none"] as const)
    if (retry === "none") options.policy = NO_RETRIES
    const timeScale = numberFlag(parsed, "time-scale")
    if (timeScale !== undefined) options.timeScale = timeScale
  }
  return options
}

const noExtra = (positionals: ReadonlyArray<string>, from: number) => {
  if (positionals.length > from) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[from])}`)
  }
}

const nowOf = (io: CliIo): Date => new Date(io.now === undefined ? Date.now() : io.now())

// --- test -------------------------------------------------------------------

const runTest = async (parsed: ParsedArgs, io: CliIo): Promise<number> => {
  const [url] = parsed.positionals
  noExtra(parsed.positionals, 1)
  const endpoint = endpointOf(parsed, url)
  const sender = usage(() => makeSender(endpoint, senderOptions(parsed, io, false)))
  const postback = samplePostback({ timestamp: nowOf(io) })
  const request = sender.request(postback)
  const json = parsed.switches.has("json")
  if (!json) io.stdout(`${requestLines(request).join("\n")}\n\n`)
  try {
    const result = await sender.sendOnce(
      postback,
      io.signal === undefined ? undefined : { signal: io.signal }
    )
    const pass = result.status === 200
    if (json) {
      io.stdout(`${toJson({ pass, request, ...result })}\n`)
    } else {
      const verdict = pass
        ? `PASS: HTTP 200 in ${ms(result.latencyMs)} ms`
        : `FAIL: HTTP ${result.status} in ${ms(result.latencyMs)} ms; only 200 OK counts as delivered (MomentScience would retry)`
      io.stdout(`${verdict}\nresponse: ${bodyPreview(result.body, result.bodyTruncated)}\n`)
    }
    return pass ? EXIT.ok : EXIT.failed
  } catch (error) {
    if (!(error instanceof SendError)) throw error
    const detail = error.detail
    if (json) {
      io.stdout(`${toJson({ pass: false, request, error: detail, latencyMs: error.latencyMs })}\n`)
    } else {
      io.stdout(`FAIL: no answer: ${detail}\n`)
    }
    return EXIT.failed
  }
}

// --- send -------------------------------------------------------------------

/** A POST body from `--body` and `field=value` arguments, decoded as a receiver would. */
const postbackFromFields = (
  bodyText: string | undefined,
  pairs: ReadonlyArray<string>,
  now: Date
): Postback => {
  const body: Record<string, unknown> = {}
  let payload: Record<string, unknown> = {}
  if (bodyText !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(bodyText)
    } catch (error) {
      throw new UsageError(
        `--body is not JSON: ${error instanceof Error ? error.message : String(error)}`
      )
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new UsageError("--body must be a JSON object, the POST body of a postback")
    }
    Object.assign(body, parsed)
    const p = (parsed as Record<string, unknown>).payload
    if (p !== undefined) {
      if (typeof p !== "object" || p === null || Array.isArray(p)) {
        throw new UsageError("--body: payload must be an object of strings")
      }
      payload = { ...p }
    }
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=")
    if (eq <= 0) {
      throw new UsageError(`fields are given as name=value, got ${JSON.stringify(pair)}`)
    }
    const name = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    if (isWireField(name)) body[name] = value
    else payload[name] = value
  }
  body.payload = payload
  body.timestamp ??= now.toISOString()
  body.is_loyaltyboost ??= "0"
  const result = parsePostbackJson(body)
  if (!result.ok) throw new UsageError(`invalid postback: ${formatPostbackIssues(result.errors)}`)
  return result.postback
}

const runSend = async (parsed: ParsedArgs, io: CliIo): Promise<number> => {
  const template = flagValue(parsed, "template")
  const url = template === undefined ? parsed.positionals[0] : undefined
  const pairs = parsed.positionals.slice(template === undefined ? 1 : 0)
  const endpoint = endpointOf(parsed, url)
  const json = parsed.switches.has("json")
  const progress = json ? io.stderr : io.stdout
  const options = senderOptions(parsed, io, true)
  const sender = usage(() =>
    makeSender(endpoint, {
      ...options,
      onAttempt: (attempt) => progress(`${attemptLine(attempt)}\n`)
    })
  )
  const postback = postbackFromFields(flagValue(parsed, "body"), pairs, nowOf(io))
  const request = usage(() => sender.request(postback))
  if (parsed.switches.has("dry-run")) {
    io.stdout(json ? `${toJson(request)}\n` : `${requestLines(request).join("\n")}\n`)
    return EXIT.ok
  }
  if (!json) io.stdout(`${requestLines(request).join("\n")}\n\n`)
  const report = await sender.deliver(
    postback,
    io.signal === undefined ? undefined : { signal: io.signal }
  )
  if (json) io.stdout(`${toJson(report)}\n`)
  else io.stdout(`\n${verdictOf(report)}\n`)
  return report.delivered ? EXIT.ok : EXIT.failed
}

const verdictOf = (report: DeliveryReport): string => {
  const took = seconds(report.finishedAt.getTime() - report.startedAt.getTime())
  if (report.state._tag === "delivered") {
    return `DELIVERED on attempt ${report.state.attempt} (after ${took})`
  }
  const last = report.attempts[report.attempts.length - 1]
  return `FAILED after ${report.state.attempts} attempt${report.state.attempts === 1 ? "" : "s"} (after ${took}; last: ${last === undefined ? "none" : attemptResult(last)}); MomentScience marks it failed for good`
}

// --- replay -----------------------------------------------------------------

const MAX_LISTED = 10

const readPostbacks = (
  text: string,
  file: string
): Array<{ readonly line: number; readonly postback: Postback }> => {
  const items: Array<{ line: number; postback: Postback }> = []
  const problems: Array<string> = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === "") continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      problems.push(
        `line ${i + 1}: not JSON (${error instanceof Error ? error.message : String(error)})`
      )
      continue
    }
    const result = parsePostbackJson(value)
    if (result.ok) items.push({ line: i + 1, postback: result.postback })
    else problems.push(`line ${i + 1}: ${formatPostbackIssues(result.errors)}`)
  }
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED)
    const more = problems.length - listed.length
    throw new UsageError(
      `${file} has ${problems.length} invalid line${problems.length === 1 ? "" : "s"}; nothing was sent:\n  ${listed.join("\n  ")}${more > 0 ? `\n  (and ${more} more)` : ""}`
    )
  }
  if (items.length === 0) throw new UsageError(`${file} holds no postbacks`)
  return items
}

const runReplay = async (parsed: ParsedArgs, io: CliIo): Promise<number> => {
  const [file, url] = parsed.positionals
  if (file === undefined) throw new UsageError("<file.jsonl> is required")
  noExtra(parsed.positionals, 2)
  const endpoint = endpointOf(parsed, url)
  const concurrency = numberFlag(parsed, "concurrency", { min: 1, max: 10_000, integer: true }) ?? 8
  const sender: Sender = usage(() => makeSender(endpoint, senderOptions(parsed, io, true)))
  let text: string
  try {
    text = await io.readTextFile(file)
  } catch (error) {
    throw new UsageError(
      `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`
    )
  }
  const items = readPostbacks(text, file)
  const json = parsed.switches.has("json")
  const quiet = parsed.switches.has("quiet")
  const reports: Array<DeliveryReport | undefined> = items.map(() => undefined)
  let done = 0
  let delivered = 0
  const startedAt = Date.now()

  const progress = Effect.forever(
    Effect.andThen(
      Effect.sleep("1 second"),
      Effect.sync(() =>
        io.stderr(
          `[${seconds(Math.round((Date.now() - startedAt) / 1000) * 1000)}] ${done}/${items.length} done, ${delivered} delivered, ${done - delivered} failed, ${Math.min(concurrency, items.length - done)} in progress\n`
        )
      )
    )
  )
  const all = Effect.forEach(
    items,
    (item, i) =>
      Effect.map(sender.deliverEffect(item.postback), (report) => {
        reports[i] = report
        done++
        if (report.delivered) delivered++
      }),
    { concurrency, discard: true }
  )
  await runPlain(
    Effect.gen(function* () {
      const ticker = quiet ? undefined : yield* Effect.forkChild(progress)
      yield* all
      if (ticker !== undefined) yield* Fiber.interrupt(ticker)
    }),
    io.signal
  )

  const failed = items.length - delivered
  if (json) {
    io.stdout(
      `${toJson({
        postbacks: items.length,
        delivered,
        failed,
        results: items.map((item, i) => ({ line: item.line, ...reports[i]! }))
      })}\n`
    )
  } else {
    const lines = [
      `replayed ${count(items.length)} postback${items.length === 1 ? "" : "s"} from ${file} to ${sender.method} ${targetOf(endpoint)}`,
      `delivered  ${count(delivered)}`,
      `failed     ${count(failed)}`
    ]
    const failures = items.flatMap((item, i) => {
      const report = reports[i]!
      return report.delivered ? [] : [`  line ${item.line}: ${verdictOf(report)}`]
    })
    lines.push(...failures.slice(0, MAX_LISTED))
    if (failures.length > MAX_LISTED) lines.push(`  (and ${failures.length - MAX_LISTED} more)`)
    const attempts = reports.reduce((n, r) => n + (r?.attempts.length ?? 0), 0)
    lines.push(`attempts   ${count(attempts)}`)
    io.stdout(`${lines.join("\n")}\n`)
  }
  return failed === 0 ? EXIT.ok : EXIT.failed
}

// --- load -------------------------------------------------------------------

const runLoadCommand = async (parsed: ParsedArgs, io: CliIo): Promise<number> => {
  const [url] = parsed.positionals
  noExtra(parsed.positionals, 1)
  const endpoint = endpointOf(parsed, url)
  const rate = numberFlag(parsed, "rate", { max: 1_000_000 })
  const duration = numberFlag(parsed, "duration")
  if (rate === undefined) throw new UsageError("--rate <requests per second> is required")
  if (duration === undefined) throw new UsageError("--duration <seconds> is required")
  const duplicates = shareFlag(parsed, "duplicates") ?? 0
  const concurrency = numberFlag(parsed, "concurrency", { min: 1, max: 100_000, integer: true })
  const users = numberFlag(parsed, "users", { min: 1, max: 2 ** 32, integer: true })
  const seed = numberFlag(parsed, "seed", { min: 0, max: 2 ** 32 - 1, integer: true })
  const json = parsed.switches.has("json")
  const quiet = parsed.switches.has("quiet")
  const send = senderOptions(parsed, io, false)
  const options: { -readonly [K in keyof LoadOptions]: LoadOptions[K] } = {
    rate,
    durationSeconds: duration,
    duplicates,
    headers: send.headers ?? {}
  }
  if (send.timeoutMs !== undefined) options.timeoutMs = send.timeoutMs
  if (send.fetch !== undefined) options.fetch = send.fetch
  if (concurrency !== undefined) options.concurrency = concurrency
  if (users !== undefined) options.users = users
  if (seed !== undefined) options.seed = seed
  if (io.signal !== undefined) options.signal = io.signal
  if (!quiet) {
    options.onProgress = (p) =>
      io.stderr(
        `[${seconds(Math.round(p.elapsedMs / 1000) * 1000)}] sent ${count(p.sent)}/${count(p.planned)}  200: ${count(p.ok)}  non-200: ${count(p.non200)}  errors: ${count(p.errors)}  in flight: ${count(p.inFlight)}\n`
      )
  }
  // Every option is checked before the first request.
  const load = usage(() => loadEffect(endpoint, options))
  const summary = await runPlain(load)
  if (json) io.stdout(`${toJson(summary)}\n`)
  else io.stdout(loadReport(summary, endpoint, concurrency ?? 100))
  if (summary.stopped) return EXIT.interrupted
  return summary.non200 + summary.errors === 0 ? EXIT.ok : EXIT.failed
}

/** The URL or template of an endpoint, for a person. */
const targetOf = (endpoint: Endpoint): string =>
  redactUrl(
    endpoint.template === undefined
      ? String(endpoint.url)
      : typeof endpoint.template === "string"
        ? endpoint.template
        : endpoint.template.source
  )

const loadReport = (s: LoadSummary, endpoint: Endpoint, concurrency: number): string => {
  const others = Object.entries(s.statuses)
    .filter(([status]) => status !== "200")
    .map(([status, n]) => `${status}: ${count(n)}`)
    .join(", ")
  const reasons = Object.entries(s.errorReasons)
    .map(([reason, n]) => `${reason}: ${count(n)}`)
    .join(", ")
  const w = 9
  const lines = [
    `load: ${count(s.planned)} requests at ${s.targetRate}/s, ${Math.round((s.duplicates / Math.max(1, s.sent)) * 100)}% duplicates, concurrency ${concurrency}`,
    `      ${endpoint.method} ${targetOf(endpoint)}`,
    `sent       ${count(s.sent, w)}   (${count(s.unique)} distinct, ${count(s.duplicates)} duplicates)${s.stopped ? "  STOPPED before the end" : ""}`,
    `200        ${count(s.ok, w)}`,
    `non-200    ${count(s.non200, w)}${others === "" ? "" : `   ${others}`}`,
    `errors     ${count(s.errors, w)}   timeouts ${count(s.timeouts)}, connection errors ${count(s.connectionErrors)}${reasons === "" ? "" : ` (${reasons})`}`,
    s.latency === undefined ? "latency    no answers" : `latency ms ${latencyLine(s.latency)}`,
    `rate       ${s.achievedRate.toFixed(1)}/s achieved (target ${s.targetRate}/s), max lag ${ms(s.maxLagMs)} ms`,
    `elapsed    ${seconds(Math.round(s.elapsedMs))}`
  ]
  return `${lines.join("\n")}\n`
}

// --- entry ------------------------------------------------------------------

const COMMANDS: Record<
  string,
  {
    readonly flags: Record<string, FlagSpec>
    readonly run: (parsed: ParsedArgs, io: CliIo) => Promise<number>
  }
> = {
  test: { flags: TARGET_FLAGS, run: runTest },
  send: {
    flags: {
      ...TARGET_FLAGS,
      ...RETRY_FLAGS,
      body: { value: true },
      "dry-run": { value: false }
    },
    run: runSend
  },
  replay: {
    flags: {
      ...TARGET_FLAGS,
      ...RETRY_FLAGS,
      concurrency: { value: true },
      quiet: { value: false }
    },
    run: runReplay
  },
  load: {
    flags: {
      ...TARGET_FLAGS,
      rate: { value: true },
      duration: { value: true },
      duplicates: { value: true },
      concurrency: { value: true },
      users: { value: true },
      seed: { value: true },
      quiet: { value: false }
    },
    run: runLoadCommand
  }
}

/**
 * The `postback` command line, portable: the runtime entry points
 * (`bin/postback.js` for Node, `bin/postback.deno.ts` for Deno) only wire
 * `args`, output, file reading and Ctrl-C, and exit with the returned code
 * ({@link EXIT}: 0 delivered, 1 a delivery failed, 2 bad command line or
 * input, 130 interrupted).
 *
 * @example
 * const code = await runCli(["test", "http://127.0.0.1:8080/postbacks?secret=s3cret"], {
 *   stdout: (text) => out.push(text),
 *   stderr: (text) => err.push(text),
 *   readTextFile: (path) => Deno.readTextFile(path)
 * })
 */
export const runCli = async (args: ReadonlyArray<string>, io: CliIo): Promise<number> => {
  const [name, ...rest] = args
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? (rest[0] ?? "") : ""
    const text = HELP[topic]
    if (text === undefined) {
      io.stderr(`postback: no command ${JSON.stringify(topic)}\n\n${HELP[""]}`)
      return EXIT.usage
    }
    ;(name === undefined ? io.stderr : io.stdout)(text)
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    io.stderr(`postback: unknown command ${JSON.stringify(name)}\n\n${HELP[""]}`)
    return EXIT.usage
  }
  try {
    const parsed = parseArgs(rest, command.flags)
    if (parsed.switches.has("help")) {
      io.stdout(HELP[name]!)
      return EXIT.ok
    }
    return await command.run(parsed, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(
        `postback ${name}: ${error.message}\nRun "postback help ${name}" for the options.\n`
      )
      return EXIT.usage
    }
    if (io.signal?.aborted) {
      io.stderr(`postback ${name}: interrupted\n`)
      return EXIT.interrupted
    }
    io.stderr(
      `postback ${name}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`
    )
    return EXIT.failed
  }
}
