import { useEffect, useState } from "preact/hooks"
import type { Session } from "./App.tsx"
import type { ApiError } from "./api.ts"
import { formatTime } from "./format.ts"

/** A forwarding destination with its health (`GET /api/destinations`). */
interface Destination {
  readonly id: number
  readonly url: string
  readonly events: ReadonlyArray<string>
  readonly state: "active" | "paused" | "disabled"
  readonly disabledReason: string | null
  readonly rotatingUntil: string | null
  readonly failingSince: string | null
  readonly lastSuccessAt: string | null
  readonly pending: number
  readonly oldestPendingSeconds: number
  readonly dead: number
}

/** A forwarded event with its attempts (`GET /api/destinations/:id/events`). */
interface ForwardedEvent {
  readonly id: number
  readonly webhookId: string
  readonly postbackId: number
  readonly eventType: string
  readonly status: string
  readonly attempts: number
  readonly lastError: string | null
  readonly history: ReadonlyArray<{
    readonly at: string
    readonly httpStatus: number | null
    readonly latencyMs: number
    readonly error: string | null
  }>
}

const message = (cause: unknown): string => (cause as ApiError).message ?? String(cause)

const age = (seconds: number): string =>
  seconds === 0
    ? "—"
    : seconds < 120
      ? `${seconds} s`
      : seconds < 7200
        ? `${Math.floor(seconds / 60)} min`
        : `${Math.floor(seconds / 3600)} h`

/**
 * Forwarding: every destination with its health (state, waiting events and
 * the oldest one's age, dead events, failing since, last success), pause and
 * resume, and a destination's newest events with each attempt.
 */
export const Destinations = (props: { readonly session: Session }) => {
  const { api } = props.session
  const [destinations, setDestinations] = useState<ReadonlyArray<Destination>>([])
  const [selected, setSelected] = useState<number | null>(null)
  const [events, setEvents] = useState<ReadonlyArray<ForwardedEvent>>([])
  const [error, setError] = useState<string | null>(null)

  const load = async () => {
    try {
      const answer = await api.get<{ destinations: ReadonlyArray<Destination> }>(
        "/api/destinations"
      )
      setDestinations(answer.destinations)
      setError(null)
    } catch (cause) {
      setError(message(cause))
    }
  }

  const open = async (id: number) => {
    setSelected(id)
    try {
      const answer = await api.get<{ events: ReadonlyArray<ForwardedEvent> }>(
        `/api/destinations/${id}/events`,
        { limit: "25" }
      )
      setEvents(answer.events)
    } catch (cause) {
      setError(message(cause))
    }
  }

  const change = async (id: number, action: "pause" | "resume") => {
    try {
      await api.post(`/api/destinations/${id}/${action}`, {})
      await load()
    } catch (cause) {
      setError(message(cause))
    }
  }

  useEffect(() => {
    void load()
  }, [])

  return (
    <section class="card destinations" aria-labelledby="destinations-title">
      <h2 id="destinations-title">Forwarding destinations</h2>
      <button type="button" class="secondary" onClick={() => void load()}>
        Refresh
      </button>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {destinations.length === 0 ? (
        <p class="empty">No destination: add one with FORWARD_DESTINATIONS_FILE or the API.</p>
      ) : (
        <div class="table-scroll">
          <table aria-label="Destinations">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">State</th>
                <th scope="col">Events</th>
                <th scope="col">Waiting</th>
                <th scope="col">Oldest</th>
                <th scope="col">Dead</th>
                <th scope="col">Failing since</th>
                <th scope="col">Last success</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {destinations.map((d) => (
                <tr key={d.id} class={d.id === selected ? "highlight" : undefined}>
                  <td>
                    <button type="button" class="link" onClick={() => void open(d.id)}>
                      {d.url}
                    </button>
                  </td>
                  <td title={d.disabledReason ?? undefined}>
                    {d.state}
                    {d.rotatingUntil !== null ? " (rotating)" : ""}
                  </td>
                  <td>{d.events.join(", ")}</td>
                  <td class="num">{d.pending}</td>
                  <td class="num">{age(d.oldestPendingSeconds)}</td>
                  <td class="num">{d.dead}</td>
                  <td class="nowrap">{formatTime(d.failingSince, "UTC")}</td>
                  <td class="nowrap">{formatTime(d.lastSuccessAt, "UTC")}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => void change(d.id, d.state === "active" ? "pause" : "resume")}
                    >
                      {d.state === "active" ? "Pause" : "Resume"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected !== null && (
        <div class="table-scroll">
          <table aria-label="Forwarded events">
            <thead>
              <tr>
                <th scope="col">webhook-id</th>
                <th scope="col">Postback</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts (time, HTTP status, latency, error)</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td>{e.webhookId}</td>
                  <td class="num">{e.postbackId}</td>
                  <td>{e.eventType}</td>
                  <td>{e.status}</td>
                  <td>
                    {e.history.map((h) => (
                      <div key={h.at}>
                        {formatTime(h.at, "UTC")} · {h.httpStatus ?? "no answer"} · {h.latencyMs} ms
                        {h.error === null ? "" : ` · ${h.error}`}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
