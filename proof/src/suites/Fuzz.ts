// Fuzz: at least 20,000 generated requests (quick: 4,000) to a receiver on
// PostgreSQL, from the arbitraries of FuzzRequests.ts, then the admin API
// with every wrong form of the token and a flood of postbacks with a wrong
// secret. No answer may be a 5xx other than 503, the receiver must never
// exit, every refusal must have the one JSON error shape, nothing without
// the secret may be stored or credited, nothing invalid may be credited
// (every reward transaction belongs to a postback acknowledged as
// `accepted`), and the heap left after a full collection must stay flat.
import { Agent, request } from "node:http"
import { connect } from "node:net"
import { fileURLToPath } from "node:url"
import fc from "fast-check"
import { answerBound, boundFigure, crashViolations, trafficViolations } from "../Checks.ts"
import {
  adminTokenForms,
  type HttpSpec,
  ingestRequestArb,
  type RawSpec,
  type RequestSpec,
  wrongSecretArb
} from "../FuzzRequests.ts"
import { postgresReader, type Query, settled } from "../Ledger.ts"
import { createDatabase } from "../Postgres.ts"
import { ADMIN_TOKEN, Receiver, SECRET } from "../Receiver.ts"
import { formatResult, type SuiteResult, Traffic } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

const DATABASE_TIMEOUT_MS = 5_000
const CLIENT_TIMEOUT_MS = 20_000
const CONCURRENCY = 32
const hook = fileURLToPath(new URL("../heap-hook.mjs", import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What came back for one request: a status and body, or why there was none. */
type Answer =
  | { readonly status: number; readonly body: string; readonly latencyMs: number }
  | { readonly error: string; readonly latencyMs: number }

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })

const sendHttp = (port: number, spec: HttpSpec): Promise<Answer> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    let settledAnswer = false
    const done = (answer: Answer) => {
      if (settledAnswer) return
      settledAnswer = true
      resolve(answer)
    }
    try {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          method: spec.method,
          path: spec.path,
          headers: {
            ...spec.headers,
            ...(spec.body === undefined ? {} : { "content-length": String(spec.body.length) })
          },
          agent,
          timeout: CLIENT_TIMEOUT_MS
        },
        (res) => {
          const chunks: Array<Buffer> = []
          let size = 0
          res.on("data", (c: Buffer) => {
            size += c.length
            if (size < 65_536) chunks.push(c)
          })
          res.on("end", () =>
            done({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              latencyMs: performance.now() - t0
            })
          )
          res.on("error", (e) =>
            done({
              error: (e as NodeJS.ErrnoException).code ?? e.message,
              latencyMs: performance.now() - t0
            })
          )
        }
      )
      req.on("timeout", () => {
        req.destroy()
        done({ error: "timeout", latencyMs: performance.now() - t0 })
      })
      req.on("error", (e: NodeJS.ErrnoException) =>
        done({ error: e.code ?? e.message, latencyMs: performance.now() - t0 })
      )
      req.end(spec.body === undefined ? undefined : Buffer.from(spec.body))
    } catch (e) {
      // node:http refused to send it (an invalid method token or header): not the receiver's doing
      done({ error: `client refused: ${(e as Error).message.slice(0, 60)}`, latencyMs: 0 })
    }
  })

const sendRaw = (port: number, spec: RawSpec): Promise<Answer> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    const socket = connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ error: "timeout", latencyMs: performance.now() - t0 })
    }, CLIENT_TIMEOUT_MS)
    socket.on("data", (c: Buffer) => chunks.push(c))
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString("latin1")
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve(
        status === null
          ? {
              error: text === "" ? "closed without an answer" : "not HTTP",
              latencyMs: performance.now() - t0
            }
          : {
              status: Number(status[1]),
              body: text.slice(text.indexOf("\r\n\r\n") + 4),
              latencyMs: performance.now() - t0
            }
      )
    })
    socket.write(spec.bytes)
    socket.end()
  })

/** The one error shape of the API (`src/Admin/Errors.ts`): `{ error, message, issues? }`. */
const hasErrorShape = (body: string): boolean => {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown }
    return typeof parsed.error === "string" && typeof parsed.message === "string"
  } catch {
    return false
  }
}

/** Reads the heap after two full collections through the heap hook (SIGUSR2); bytes. */
const heapAfterGc = async (
  receiver: Receiver,
  seq: number
): Promise<{ used: number; rss: number }> => {
  receiver.signal("SIGUSR2")
  for (let i = 0; i < 200; i++) {
    const match = new RegExp(`proof-heap seq=${seq} used=(\\d+) rss=(\\d+)`).exec(receiver.output())
    if (match !== null) return { used: Number(match[1]), rss: Number(match[2]) }
    await sleep(50)
  }
  throw new Error(
    "the heap hook did not answer (is the receiver started with --import heap-hook.mjs?)"
  )
}

/** The ledger and the inbox in numbers, to compare before and after requests that must change nothing. */
const snapshot = async (query: Query): Promise<string> => {
  const [row] = await query<{ s: string }>(
    `SELECT concat_ws(' ', (SELECT count(*) FROM postbacks), (SELECT coalesce(max(id), 0) FROM postbacks),
       (SELECT coalesce(sum(delivery_count), 0) FROM postbacks), (SELECT count(*) FROM reward_transactions),
       (SELECT coalesce(sum(points), 0) FROM reward_transactions), (SELECT coalesce(sum(balance), 0) FROM accounts)) AS s`
  )
  return row?.s ?? ""
}

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`

/** The fuzz suite. */
export const fuzz = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const total = options.quick ? 4_000 : 20_000
  const started = Date.now()
  const violations: Array<string> = []
  const figures: Array<readonly [string, string]> = []
  const traffic = new Traffic()
  const database = await createDatabase()
  const receiver = await Receiver.make({
    env: { DATABASE_URL: database.url, DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS) },
    nodeArgs: ["--expose-gc", "--import", hook]
  })
  const reader = postgresReader(database.url)
  try {
    await receiver.start()
    const specs = fc.sample(ingestRequestArb(SECRET), { numRuns: total, seed: options.seed })
    const byCategory = new Map<string, Map<string, number>>()
    const samples = new Map<string, string>()
    const answeredAs = new Map<number, string>()
    let badShape = 0
    const unavailable: Array<string> = []
    const note = (category: string, key: string) => {
      const counts = byCategory.get(category) ?? new Map<string, number>()
      counts.set(key, (counts.get(key) ?? 0) + 1)
      byCategory.set(category, counts)
    }
    const violationSample = (what: string, spec: RequestSpec, answer: Answer) => {
      const key = `${what} (${spec.category})`
      if (samples.has(key)) return
      const shown =
        spec.kind === "raw"
          ? JSON.stringify(Buffer.from(spec.bytes).toString("latin1").slice(0, 300))
          : `${spec.method} ${spec.path.slice(0, 200)} ${JSON.stringify(spec.headers).slice(0, 200)} body ${spec.body === undefined ? "-" : JSON.stringify(Buffer.from(spec.body).toString("latin1").slice(0, 200))}`
      samples.set(
        key,
        `${key}: ${shown} -> ${"status" in answer ? `${answer.status} ${answer.body.slice(0, 200)}` : answer.error}`
      )
    }
    const check = (spec: RequestSpec, answer: Answer) => {
      if ("error" in answer) {
        if (!answer.error.startsWith("client refused")) traffic.unanswered(answer.error)
        note(
          spec.category,
          answer.error.startsWith("client refused") ? "client refused" : answer.error
        )
        if (answer.error === "timeout") violationSample("no answer", spec, answer)
        return
      }
      traffic.answered(answer.status, answer.latencyMs)
      note(spec.category, String(answer.status))
      if (answer.status >= 500 && answer.status !== 503)
        violationSample(`answered ${answer.status}`, spec, answer)
      if (answer.status === 503 && spec.kind === "http" && unavailable.length < 3)
        unavailable.push(
          `${spec.method} ${spec.path.slice(0, 100)} -> ${answer.body.slice(0, 160)}`
        )
      if (spec.kind === "raw" && answer.status === 200) {
        // a well-formed request ahead of the malformed part (pipelining) is a postback like any other
        for (const m of answer.body.matchAll(/"status":"(\w+)","id":(\d+)/g)) {
          const id = Number(m[2])
          const seen = answeredAs.get(id)
          answeredAs.set(id, seen === undefined ? m[1]! : `${seen},${m[1]}`)
        }
      }
      if (spec.kind === "http") {
        if (!spec.authenticated && answer.status === 200) {
          violations.push(
            `a request without the right secret was answered 200 (${spec.path.slice(0, 120)})`
          )
        }
        if (answer.status >= 400 && spec.method !== "HEAD" && !hasErrorShape(answer.body)) {
          badShape++
          violationSample("error body not {error, message}", spec, answer)
        }
        if (answer.status === 200) {
          try {
            const parsed = JSON.parse(answer.body) as { id?: unknown; status?: unknown }
            if (typeof parsed.id === "number") {
              const seen = answeredAs.get(parsed.id)
              answeredAs.set(
                parsed.id,
                seen === undefined ? String(parsed.status) : `${seen},${String(parsed.status)}`
              )
            }
          } catch {
            // a HEAD or a route that is not the ingest route
          }
        }
      }
    }
    const run = async (list: ReadonlyArray<RequestSpec>) => {
      let cursor = 0
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (cursor < list.length) {
            const spec = list[cursor++]!
            check(
              spec,
              spec.kind === "raw"
                ? await sendRaw(receiver.port, spec)
                : await sendHttp(receiver.port, spec)
            )
          }
        })
      )
    }

    // Phase 1: the generated requests, in five parts; the heap after a full
    // collection is read after the first (the warm-up) and after each part.
    const parts = 5
    const heaps: Array<{ used: number; rss: number }> = []
    for (let part = 0; part < parts; part++) {
      await run(specs.slice((part * specs.length) / parts, ((part + 1) * specs.length) / parts))
      heaps.push(await heapAfterGc(receiver, part + 1))
    }
    await settled(reader.query, 120_000)
    const credits = await reader.query<{ postback_id: string; status: string; user_id: string }>(
      `SELECT r.postback_id::text AS postback_id, p.status, p.user_id FROM reward_transactions r JOIN postbacks p ON p.id = r.postback_id`
    )
    // Every credit must belong to a postback answered "accepted". The one
    // exception is the raw templates' clean postback (user fuzz-raw): sent
    // pipelined ahead of a malformed request, it is committed, and its 200
    // is lost when the parser refuses the next request and the connection
    // closes; the sender sees no answer and would retry.
    const creditedWithoutAccept = credits.filter((c) => {
      const answers = answeredAs.get(Number(c.postback_id))
      return answers === undefined
        ? c.user_id !== "fuzz-raw"
        : !answers.split(",").includes("accepted")
    })
    const unansweredRaw = credits.filter(
      (c) => answeredAs.get(Number(c.postback_id)) === undefined && c.user_id === "fuzz-raw"
    ).length
    const creditedOtherStatus = credits.filter((c) => c.status !== "credited")
    if (creditedWithoutAccept.length > 0)
      violations.push(
        `${creditedWithoutAccept.length} credits for postbacks not acknowledged as accepted (ids ${creditedWithoutAccept
          .slice(0, 5)
          .map(
            (c) => `${c.postback_id} answered ${answeredAs.get(Number(c.postback_id)) ?? "never"}`
          )
          .join(", ")})`
      )
    if (creditedWithoutAccept.length > 0) {
      const ids = creditedWithoutAccept.slice(0, 5).map((c) => Number(c.postback_id))
      const rows = await reader.query<Record<string, unknown>>(
        `SELECT id, source, offer_id, payout::text, is_loyalty_boost, payload, flags, delivery_count, received_at FROM postbacks WHERE id IN (${ids.join(", ")})`
      )
      violations.push(`those rows: ${JSON.stringify(rows).slice(0, 2_000)}`)
    }
    if (creditedOtherStatus.length > 0)
      violations.push(
        `${creditedOtherStatus.length} credits for postbacks whose status is not credited`
      )
    const [stored] = await reader.query<{ rejected: string; held: string; accepted: string }>(
      `SELECT count(*) FILTER (WHERE status = 'rejected')::text AS rejected, count(*) FILTER (WHERE status = 'held')::text AS held,
              count(*) FILTER (WHERE status NOT IN ('rejected', 'held'))::text AS accepted FROM postbacks`
    )
    figures.push([
      "pipelined, committed, unanswered",
      `${unansweredRaw} clean postbacks sent ahead of a malformed request on one connection: stored and credited, their 200 lost with the connection`
    ])
    figures.push([
      "stored rows",
      `${stored?.accepted} processed, ${stored?.held} held, ${stored?.rejected} rejected; ${credits.length} credits, each for a postback answered "accepted"`
    ])

    // Phase 2: what must change nothing: the admin API with every wrong
    // token form, and postbacks with a wrong secret.
    const before = await snapshot(reader.query)
    const routes = [
      { method: "GET", path: "/api/users/fuzz-raw" },
      { method: "GET", path: "/api/postbacks/1" },
      { method: "POST", path: "/api/postbacks/1/replay" },
      { method: "GET", path: "/metrics" }
    ]
    let adminRequests = 0
    const lenient: Array<string> = []
    for (const form of adminTokenForms(ADMIN_TOKEN, SECRET)) {
      for (const route of routes) {
        const path = form.query === "" ? route.path : `${route.path}?${form.query}`
        const spec: HttpSpec = {
          kind: "http",
          category: "admin token",
          method: route.method,
          path,
          headers: form.headers,
          authenticated: !form.mustRefuse
        }
        const answer = await sendHttp(receiver.port, spec)
        adminRequests++
        check(spec, answer)
        const status = "status" in answer ? answer.status : answer.error
        if (form.mustRefuse && status !== 401)
          violations.push(
            `admin token "${form.form}" on ${route.method} ${route.path}: ${status}, not 401`
          )
        if (form.mustRefuse && status === 401 && "status" in answer && !hasErrorShape(answer.body))
          violations.push(`admin token "${form.form}": 401 without the error shape`)
        if (
          form.form.startsWith("the right token") &&
          route.path !== "/api/postbacks/1/replay" &&
          status !== 200 &&
          status !== 404
        )
          violations.push(`the right admin token on ${route.path}: ${status}`)
        if (
          !form.mustRefuse &&
          !form.form.startsWith("the right token") &&
          status === 200 &&
          route.path === "/metrics"
        )
          lenient.push(form.form)
      }
    }
    figures.push([
      "admin token forms",
      `${adminTokenForms(ADMIN_TOKEN, SECRET).length} forms x ${routes.length} routes = ${adminRequests} requests; every wrong token 401`
    ])
    figures.push([
      "taken as the right token",
      lenient.length === 0 ? "none of the lenient forms" : lenient.join("; ")
    ])
    const wrongSecret = fc.sample(wrongSecretArb(SECRET), {
      numRuns: options.quick ? 400 : 2_000,
      seed: options.seed + 1
    })
    await run(wrongSecret)
    await settled(reader.query, 60_000)
    const after = await snapshot(reader.query)
    if (after !== before)
      violations.push(
        `requests without the secret or the admin token changed the database: ${before} -> ${after}`
      )
    figures.push([
      "without secret or token",
      `${wrongSecret.length + adminRequests} requests; inbox and ledger unchanged (${after})`
    ])

    // The receiver is still up, and its heap flat.
    const health = await sendHttp(receiver.port, {
      kind: "http",
      category: "health",
      method: "GET",
      path: "/healthz",
      headers: {},
      authenticated: true
    })
    if (!("status" in health) || health.status !== 200)
      violations.push("GET /healthz does not answer 200 after the fuzz")
    heaps.push(await heapAfterGc(receiver, parts + 1))
    const baseline = heaps[0]!.used
    const last = heaps.at(-1)!.used
    const peak = Math.max(...heaps.slice(1).map((h) => h.used))
    figures.push(["heap after full GC", heaps.map((h) => mb(h.used)).join(" -> ")])
    figures.push(["rss", heaps.map((h) => mb(h.rss)).join(" -> ")])
    // Flat: after the warm-up part, what a full collection leaves may move
    // by caches filling (prepared statements, the JIT), not with the count
    // of requests: at most 16 MB over the warm-up reading, and the last
    // half of the run adds at most 4 MB.
    const half = heaps[Math.floor(heaps.length / 2)]!.used
    if (peak - baseline > 16 * 1_048_576)
      violations.push(`heap grew ${mb(peak - baseline)} after the warm-up`)
    if (last - half > 4 * 1_048_576)
      violations.push(`heap grew ${mb(last - half)} over the second half of the run`)

    const categories = [...byCategory]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, counts]): readonly [string, string] => [
        `  ${c}`,
        [...counts]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, n]) => `${k}: ${n}`)
          .join("  ")
      ])
    if (badShape > 0) violations.push(`${badShape} refusals without the {error, message} body`)
    figures.push(boundFigure(traffic, answerBound(DATABASE_TIMEOUT_MS)))
    if (unavailable.length > 0) figures.push(["503 with the database up", unavailable.join(" | ")])
    if (traffic.statuses.has(500)) {
      const errors = receiver
        .output()
        .split("\n")
        .filter((line) => line.includes("level=ERROR"))
        .slice(-3)
      violations.push(`the receiver's last errors:\n${errors.join("\n").slice(0, 3_000)}`)
    }
    violations.push(
      ...trafficViolations(traffic, {
        allowed: [200, 204, 400, 401, 404, 405, 409, 413, 414, 415, 431, 503],
        boundMs: answerBound(DATABASE_TIMEOUT_MS)
      })
    )
    violations.push(...crashViolations([receiver]))
    violations.push(...samples.values())
    const result: SuiteResult = {
      name: `fuzz, ${total.toLocaleString("en-US")} generated requests + wrong secrets and admin tokens`,
      traffic,
      figures: [["by category", ""], ...categories, ...figures],
      violations,
      elapsedMs: Date.now() - started
    }
    console.log(formatResult(result))
    return [result]
  } catch (error) {
    violations.push(
      `run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
    )
    violations.push(...crashViolations([receiver]))
    const result: SuiteResult = {
      name: "fuzz",
      traffic,
      figures,
      violations,
      elapsedMs: Date.now() - started
    }
    console.log(formatResult(result))
    return [result]
  } finally {
    await reader.close()
    await receiver.remove()
    agent.destroy()
    await database.drop()
  }
}
