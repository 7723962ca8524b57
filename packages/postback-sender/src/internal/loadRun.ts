import { seededRandom } from "@org/postback-retry"
import type { OutgoingRequest } from "../Endpoint.ts"
import {
  type Answer,
  classify,
  type Exchanged,
  type ExchangeSettings,
  fetchAnswer,
  reasonOf,
  roundedMs
} from "./exchange.ts"

/**
 * How a run reads the time and waits. On Effect's live clock these are
 * `performance.now()` and `setTimeout`; on any other clock (a `TestClock`)
 * they are that clock's time and sleeps.
 */
export interface RunClock {
  /** Milliseconds from any origin; never goes back. */
  readonly now: () => number
  /** Calls `task` once, `ms` from now; the result cancels it. */
  readonly schedule: (ms: number, task: () => void) => () => void
}

export interface RunPlan {
  readonly rate: number
  readonly planned: number
  readonly duplicates: number
  readonly concurrency: number
  readonly seed: number
  readonly timeoutMs: number
}

/** Duplicates re-send one of this many most recent distinct requests. */
const RECENT = 1024

/** A request in flight, in a list kept in start order (so in time-limit order too). */
interface InFlight {
  readonly startMs: number
  readonly controller: AbortController
  prev: InFlight | undefined
  next: InFlight | undefined
  settled: boolean
}

/**
 * The open-model load generator, in plain code: a request's path has no
 * fiber, no timer and no Effect of its own, only the fetch, its abort
 * signal and a list node.
 *
 * - One timer at a time. When it fires, every request already due is
 *   started (as many as the concurrency allows), not one per wake-up: at
 *   2000/s with a millisecond timer, two or three go out per tick.
 * - A finished request frees its slot and starts what is due at once, so a
 *   request held back by the concurrency limit waits for no timer.
 * - Time limits need no timer of their own: requests start in order and all
 *   have the same limit, so the oldest in flight is the next to time out,
 *   and the one timer also wakes for it.
 * - Counters and the latency array are all the bookkeeping; percentiles are
 *   computed once, at the end.
 */
export class LoadRun {
  readonly latencies: Float64Array
  readonly statuses: Map<number, number> = new Map()
  readonly reasons: Map<string, number> = new Map()
  answered = 0
  sent = 0
  completed = 0
  ok = 0
  non200 = 0
  timeouts = 0
  connectionErrors = 0
  duplicates = 0
  unique = 0
  maxLagMs = 0
  /** Since the start of the run, in milliseconds. */
  lastSentMs = 0
  lastDoneMs = 0

  private readonly plan: RunPlan
  private readonly makeRequest: (unique: number) => OutgoingRequest
  private readonly settings: ExchangeSettings
  private readonly clock: RunClock
  private readonly random: () => number
  private readonly recent: Array<OutgoingRequest> = []
  private readonly msPerRequest: number
  private t0 = 0
  private next = 0
  private inFlight = 0
  private oldest: InFlight | undefined
  private newest: InFlight | undefined
  private armedAt = Number.POSITIVE_INFINITY
  private cancelTimer: (() => void) | undefined
  private started = false
  private stopping = false
  private over = false
  private onEnd: (error?: unknown) => void = () => {}

  constructor(
    plan: RunPlan,
    makeRequest: (unique: number) => OutgoingRequest,
    settings: ExchangeSettings,
    clock: RunClock
  ) {
    this.plan = plan
    this.makeRequest = makeRequest
    this.settings = settings
    this.clock = clock
    this.random = seededRandom(plan.seed)
    this.latencies = new Float64Array(plan.planned)
    this.msPerRequest = 1000 / plan.rate
  }

  /** Milliseconds since the run started. */
  elapsedMs(): number {
    return this.clock.now() - this.t0
  }

  get inFlightCount(): number {
    return this.inFlight
  }

  /** Starts the run; `onEnd` is called once, when every started request has finished (or with the error that ended it). */
  start(onEnd: (error?: unknown) => void): void {
    this.onEnd = onEnd
    this.started = true
    this.t0 = this.clock.now()
    this.advance()
  }

  /**
   * Starts every request already due, as the timer would when it fires: for
   * a snapshot of the counters at this instant (progress).
   */
  catchUp(): void {
    if (this.started) this.advance()
  }

  /** Starts no more requests; those in flight finish, then the run ends. */
  stop(): void {
    if (this.over || this.stopping) return
    this.stopping = true
    if (this.started) this.advance()
  }

  /** Ends the run at once, aborting the requests in flight; `onEnd` is not called. */
  cancel(): void {
    if (this.over) return
    this.halt()
  }

  private halt(): void {
    this.over = true
    this.cancelTimer?.()
    this.cancelTimer = undefined
    for (let r = this.oldest; r !== undefined; r = r.next) {
      r.settled = true
      r.controller.abort()
    }
    this.oldest = undefined
    this.newest = undefined
  }

  /** Starts what is due, ends the run when all is done, and sets the timer for what comes next. */
  private advance(): void {
    if (this.over) return
    try {
      this.startDue()
    } catch (error) {
      // A caller's postback function threw, or gave an invalid postback.
      this.halt()
      this.onEnd(error)
      return
    }
    if (this.inFlight === 0 && (this.stopping || this.next === this.plan.planned)) {
      this.over = true
      this.cancelTimer?.()
      this.cancelTimer = undefined
      this.onEnd()
      return
    }
    this.arm()
  }

  private startDue(): void {
    if (this.stopping) return
    const { planned, concurrency } = this.plan
    while (this.next < planned && this.inFlight < concurrency) {
      const dueMs = this.next * this.msPerRequest
      const nowMs = this.clock.now() - this.t0
      if (dueMs > nowMs) return
      this.launch(this.next, dueMs, nowMs)
      this.next++
    }
  }

  // Duplicate number k goes where floor((i + 1) × share) steps up: spread
  // evenly, exactly floor(planned × share) in all, never the first.
  private isDuplicate(i: number): boolean {
    const share = this.plan.duplicates
    return this.unique > 0 && Math.floor((i + 1) * share) > Math.floor(i * share)
  }

  private launch(i: number, dueMs: number, startMs: number): void {
    let request: OutgoingRequest
    if (this.isDuplicate(i)) {
      request = this.recent[Math.floor(this.random() * Math.min(this.unique, RECENT))]!
      this.duplicates++
    } else {
      request = this.makeRequest(this.unique)
      this.recent[this.unique % RECENT] = request
      this.unique++
    }
    if (startMs - dueMs > this.maxLagMs) this.maxLagMs = startMs - dueMs
    this.lastSentMs = startMs
    this.sent++
    const flight: InFlight = {
      startMs,
      controller: new AbortController(),
      prev: this.newest,
      next: undefined,
      settled: false
    }
    if (this.newest === undefined) this.oldest = flight
    else this.newest.next = flight
    this.newest = flight
    this.inFlight++
    fetchAnswer(request, this.settings, flight.controller.signal).then(
      (answer: Answer) => {
        if (flight.settled) return
        const latencyMs = this.settle(flight) - startMs
        // Past the limit before the timer saw it: a timeout all the same.
        if (latencyMs >= this.settings.timeoutMs) this.timeouts++
        else this.record(classify(answer, roundedMs(latencyMs)))
        this.advance()
      },
      (error: unknown) => {
        if (flight.settled) return
        this.settle(flight)
        this.connectionError(reasonOf(error))
        this.advance()
      }
    )
  }

  /** Takes a request out of flight; the time it finished, since the start. */
  private settle(flight: InFlight): number {
    flight.settled = true
    if (flight.prev === undefined) this.oldest = flight.next
    else flight.prev.next = flight.next
    if (flight.next === undefined) this.newest = flight.prev
    else flight.next.prev = flight.prev
    this.inFlight--
    this.completed++
    const doneMs = this.clock.now() - this.t0
    if (doneMs > this.lastDoneMs) this.lastDoneMs = doneMs
    return doneMs
  }

  private record(x: Exchanged): void {
    if (x._tag === "response") {
      this.latencies[this.answered++] = x.latencyMs
      this.statuses.set(x.status, (this.statuses.get(x.status) ?? 0) + 1)
      if (x.status === 200) this.ok++
      else this.non200++
    } else if (x._tag === "timeout") {
      this.timeouts++
    } else {
      this.connectionError(x.reason)
    }
  }

  private connectionError(reason: string): void {
    this.connectionErrors++
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1)
  }

  /** The next moment the run must act by itself: a request due, or the oldest one's time limit. */
  private arm(): void {
    let wakeAt = Number.POSITIVE_INFINITY
    if (!this.stopping && this.next < this.plan.planned && this.inFlight < this.plan.concurrency) {
      wakeAt = this.next * this.msPerRequest
    }
    if (this.oldest !== undefined) {
      wakeAt = Math.min(wakeAt, this.oldest.startMs + this.settings.timeoutMs)
    }
    // A timer already set for earlier wakes the run in time; it sets the next one then.
    if (wakeAt >= this.armedAt) return
    this.cancelTimer?.()
    this.armedAt = wakeAt
    if (wakeAt === Number.POSITIVE_INFINITY) return
    const delay = Math.max(0, wakeAt - (this.clock.now() - this.t0))
    this.cancelTimer = this.clock.schedule(delay, this.onTimer)
  }

  private readonly onTimer = (): void => {
    this.cancelTimer = undefined
    this.armedAt = Number.POSITIVE_INFINITY
    const nowMs = this.clock.now() - this.t0
    const limit = this.settings.timeoutMs
    for (let r = this.oldest; r !== undefined && r.startMs + limit <= nowMs; r = this.oldest) {
      this.settle(r)
      this.timeouts++
      r.controller.abort()
    }
    this.advance()
  }
}
