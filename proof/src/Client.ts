import type { Postback } from "@org/postback-schema"
import { type AttemptReport, makeSender, type Sender } from "@org/postback-sender"
import type { Traffic } from "./Report.ts"

/** MomentScience's retry schedule, this much faster: 0, 60, 90, 120, 150 s become 0, 0.6, 0.9, 1.2, 1.5 s. */
export const TIME_SCALE = 0.01

const reasonOf = (attempt: AttemptReport): string =>
  attempt.outcome._tag === "timeout"
    ? "timeout"
    : attempt.outcome._tag === "connectionError"
      ? (attempt.outcome.reason ?? "connection error")
      : "answered"

/**
 * Counts one attempt into `traffic`: its status and answer time, or why
 * there was no answer.
 */
export const record = (traffic: Traffic, attempt: AttemptReport): void => {
  if (attempt.status !== undefined) traffic.answered(attempt.status, attempt.latencyMs)
  else traffic.unanswered(reasonOf(attempt))
}

/**
 * A MomentScience sender for `url` (POST JSON or GET query) that counts
 * every attempt into `traffic` (and passes it to `onAttempt`):
 * `@org/postback-sender` with MomentScience's schedule (5 attempts, 60, 90,
 * 120, 150 s apart) scaled by `timeScale`, each attempt within `timeoutMs`.
 */
export const senderFor = (
  method: "GET" | "POST",
  url: string,
  traffic: Traffic,
  options: {
    readonly timeScale?: number
    readonly timeoutMs?: number
    readonly onAttempt?: (attempt: AttemptReport) => void
  } = {}
): Sender =>
  makeSender(
    { method, url },
    {
      timeScale: options.timeScale ?? TIME_SCALE,
      timeoutMs: options.timeoutMs ?? 10_000,
      onAttempt: (attempt) => {
        record(traffic, attempt)
        options.onAttempt?.(attempt)
      }
    }
  )

/** The row id in a `200` answer (`{"status":"accepted","id":N,...}`), if there is one. */
export const idOf = (body: string | undefined): number | undefined => {
  if (body === undefined) return undefined
  try {
    const parsed = JSON.parse(body) as { id?: unknown }
    return typeof parsed.id === "number" ? parsed.id : undefined
  } catch {
    return undefined
  }
}

/**
 * Delivers a postback as MomentScience does, and starts over after five
 * failed attempts (as an operator replaying from the dashboard would) until
 * it gets `200`. Resolves with the row id of the `200` answer and how many
 * deliveries (rounds of up to five attempts) it took. Gives up, resolving
 * with `id: undefined`, when `stop()` says so between rounds.
 */
export const deliverUntilAcknowledged = async (
  sender: Sender,
  postback: Postback,
  stop: () => boolean = () => false
): Promise<{ readonly id: number | undefined; readonly rounds: number }> => {
  let rounds = 0
  for (;;) {
    rounds++
    const report = await sender.deliver(postback)
    if (report.delivered) return { id: idOf(report.attempts.at(-1)?.body), rounds }
    if (stop()) return { id: undefined, rounds }
  }
}

/**
 * Runs `task(i)` for `i` from 0 to `count - 1`, task `i` started at `i / rate`
 * seconds (an open model: whether or not earlier ones are done), at most
 * `concurrency` at once (later ones wait and start late).
 */
export const paced = async (
  count: number,
  rate: number,
  concurrency: number,
  task: (i: number) => Promise<void>
): Promise<void> => {
  const started = performance.now()
  let next = 0
  let active = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  await new Promise<void>((resolve, reject) => {
    let done = 0
    const pump = () => {
      timer = undefined
      const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate) + 1)
      while (next < due && active < concurrency) {
        const i = next++
        active++
        task(i).then(
          () => {
            active--
            done++
            if (done === count) resolve()
            else pump()
          },
          (error: unknown) => reject(error)
        )
      }
      if (next < count) {
        const wait = Math.max(0, (next / rate) * 1000 - (performance.now() - started))
        if (active < concurrency && timer === undefined) timer = setTimeout(pump, wait)
      }
    }
    if (count === 0) resolve()
    else pump()
  })
}

/** What {@link steadyLoad} did: distinct postbacks started, repeats, and the row ids of their `200`s. */
export interface LoadOutcome {
  /** Distinct postbacks started (the first `sent` of the plan), each delivered until `200`. */
  readonly sent: number
  /** Of them, delivered again (by the other method) after their `200`. */
  readonly repeats: number
  /** Row ids of every `200` answer. */
  readonly acknowledged: ReadonlySet<number>
  /** Repeats acknowledged with another row id than the first delivery (a dedup failure). */
  readonly mismatchedRepeats: number
  /** `200` answers without a row id. */
  readonly withoutId: number
  /** Postbacks never acknowledged: `stop()` said so first (the suite's deadline, a failed restart). */
  readonly gaveUp: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * MomentScience's traffic to one receiver: distinct postback `i` of `plan`
 * due at `i / rate` seconds, every other one by POST and GET, each
 * delivered until `200` ({@link deliverUntilAcknowledged}); a third of them
 * delivered again by the other method 0 to 2 s after their `200` (a quarter
 * of all deliveries are repeats). At most `concurrency` deliveries at once
 * (a sender's connection pool). Starts new postbacks while `keepGoing()`
 * or fewer than `minPostbacks` were started, then waits for all.
 */
export const steadyLoad = async (options: {
  readonly plan: ReadonlyArray<{ readonly postback: Postback }>
  readonly post: Sender
  readonly get: Sender
  readonly rate: number
  readonly concurrency: number
  readonly minPostbacks: number
  readonly keepGoing: () => boolean
  /** Stops everything: no new postbacks, and deliveries give up after their current round. */
  readonly stop: () => boolean
  readonly random: () => number
}): Promise<LoadOutcome> => {
  const { plan, post, get, random } = options
  const acknowledged = new Set<number>()
  let mismatchedRepeats = 0
  let repeats = 0
  let withoutId = 0
  let gaveUp = 0
  let sent = 0
  let active = 0
  const deliverOne = async (i: number) => {
    const postback = plan[i]!.postback
    const first = i % 2 === 0 ? post : get
    const { id, rounds } = await deliverUntilAcknowledged(first, postback, options.stop)
    if (id === undefined) {
      if (options.stop() && rounds > 0) gaveUp++
      else withoutId++
      return
    }
    acknowledged.add(id)
    if (random() < 1 / 3) {
      repeats++
      await sleep(random() * 2_000)
      const again = await deliverUntilAcknowledged(
        first === post ? get : post,
        postback,
        options.stop
      )
      if (again.id === undefined) gaveUp++
      else {
        acknowledged.add(again.id)
        if (again.id !== id) mismatchedRepeats++
      }
    }
  }
  const tasks: Array<Promise<void>> = []
  const t0 = performance.now()
  while (
    (options.keepGoing() || sent < options.minPostbacks) &&
    sent < plan.length &&
    !options.stop()
  ) {
    const due = ((performance.now() - t0) / 1000) * options.rate
    while (sent < due && sent < plan.length && active < options.concurrency) {
      const i = sent++
      active++
      tasks.push(deliverOne(i).finally(() => active--))
    }
    await sleep(10)
  }
  await Promise.all(tasks)
  return { sent, repeats, acknowledged, mismatchedRepeats, withoutId, gaveUp }
}

/** The promises of a {@link LoadOutcome}: repeats acknowledged as the same row, every `200` with its row id. */
export const loadViolations = (load: LoadOutcome): Array<string> => [
  ...(load.mismatchedRepeats > 0
    ? [`${load.mismatchedRepeats} repeated deliveries acknowledged with another row id`]
    : []),
  ...(load.withoutId > 0 ? [`${load.withoutId} answers 200 without a row id`] : []),
  ...(load.gaveUp > 0
    ? [`${load.gaveUp} postbacks never acknowledged before the suite stopped`]
    : [])
]
