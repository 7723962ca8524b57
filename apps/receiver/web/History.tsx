import { useCallback, useEffect, useRef, useState } from "preact/hooks"
import type { Session } from "./App.tsx"
import {
  type ApiError,
  type Page,
  type PostbackItem,
  type Series,
  SOURCES,
  STATUSES,
  type Summary,
  type TestPostbackAnswer
} from "./api.ts"
import { SeriesChart } from "./Chart.tsx"
import { Detail } from "./Detail.tsx"
import {
  type Filter,
  filterBody,
  filterQuery,
  initialFilter,
  PRESETS,
  seriesBucket
} from "./filter.ts"
import { formatPoints, formatTime, formatUsd, STATUS_LABELS } from "./format.ts"
import { StatusBadge, TestBadge } from "./Status.tsx"

const PAGE_SIZE = 50
const AUTO_REFRESH_MS = 10_000

const message = (cause: unknown): string => (cause as ApiError).message ?? String(cause)

/**
 * The postback history: filters, summary tiles, the chart, the delivery
 * table with keyset paging, CSV download, a test postback, and a row's
 * detail with its actions.
 */
export const History = (props: { readonly session: Session }) => {
  const { api, operator } = props.session
  const [draft, setDraft] = useState<Filter>(initialFilter)
  const [filter, setFilter] = useState<Filter>(initialFilter)
  const [items, setItems] = useState<ReadonlyArray<PostbackItem>>([])
  const [nextCursor, setNextCursor] = useState<string | null>(null)
  const [summary, setSummary] = useState<Summary | null>(null)
  const [series, setSeries] = useState<Series | null>(null)
  const [errors, setErrors] = useState<Readonly<Record<string, string>>>({})
  const [loading, setLoading] = useState(false)
  const [status, setStatus] = useState<string>("")
  const [updatedAt, setUpdatedAt] = useState<string>("")
  const [autoRefresh, setAutoRefresh] = useState(false)
  const [selected, setSelected] = useState<number | null>(null)
  const [highlight, setHighlight] = useState<number | null>(null)
  const [replayPlan, setReplayPlan] = useState<number | null>(null)
  const opener = useRef<HTMLElement | null>(null)
  const timeZone = summary?.timeZone ?? series?.timeZone ?? "UTC"

  const load = useCallback(async () => {
    setLoading(true)
    const query = filterQuery(filter)
    const failures: Record<string, string> = {}
    await Promise.all([
      api
        .get<Page<PostbackItem>>("/api/postbacks", { ...query, limit: String(PAGE_SIZE) })
        .then((page) => {
          setItems(page.items)
          setNextCursor(page.nextCursor)
        })
        .catch((cause) => {
          failures.list = message(cause)
        }),
      api
        .get<Summary>("/api/postbacks/summary", query)
        .then(setSummary)
        .catch((cause) => {
          failures.summary = message(cause)
          setSummary(null)
        }),
      api
        .get<Series>("/api/postbacks/series", { ...query, bucket: seriesBucket(filter) })
        .then(setSeries)
        .catch((cause) => {
          failures.series = message(cause)
          setSeries(null)
        })
    ])
    setErrors(failures)
    setLoading(false)
    setUpdatedAt(new Date().toLocaleTimeString("en-GB"))
  }, [api, filter])

  useEffect(() => {
    void load()
  }, [load])

  useEffect(() => {
    if (!autoRefresh) return
    const timer = setInterval(() => void load(), AUTO_REFRESH_MS)
    return () => clearInterval(timer)
  }, [autoRefresh, load])

  const loadMore = async () => {
    if (nextCursor === null) return
    try {
      const page = await api.get<Page<PostbackItem>>("/api/postbacks", {
        ...filterQuery(filter),
        limit: String(PAGE_SIZE),
        cursor: nextCursor
      })
      setItems((previous) => [...previous, ...page.items])
      setNextCursor(page.nextCursor)
    } catch (cause) {
      setErrors((previous) => ({ ...previous, list: message(cause) }))
    }
  }

  const download = async () => {
    setStatus("Preparing the CSV…")
    try {
      const name = await api.download(
        "/api/postbacks/export.csv",
        filterQuery(filter),
        "postbacks.csv"
      )
      setStatus(`Downloaded ${name}`)
    } catch (cause) {
      setStatus(`CSV download failed: ${message(cause)}`)
    }
  }

  const sendTest = async () => {
    setStatus("Sending a test postback…")
    try {
      const answer = await api.post<TestPostbackAnswer>("/api/test-postback", { operator })
      setHighlight(answer.id)
      setStatus(
        `Test postback ${answer.id === null ? "" : `#${answer.id} `}answered HTTP ${answer.httpStatus} (${answer.status})`
      )
      await load()
    } catch (cause) {
      setStatus(`Test postback failed: ${message(cause)}`)
    }
  }

  const planReplay = async () => {
    try {
      const plan = await api.post<{ matched: number; replayed: number }>("/api/postbacks/replay", {
        operator,
        filter: filterBody(filter),
        dryRun: true
      })
      setReplayPlan(plan.matched)
    } catch (cause) {
      setStatus(`Replay failed: ${message(cause)}`)
    }
  }

  const replayAll = async () => {
    try {
      const done = await api.post<{ matched: number; replayed: number }>("/api/postbacks/replay", {
        operator,
        filter: filterBody(filter),
        dryRun: false
      })
      setReplayPlan(null)
      setStatus(`Replayed ${done.replayed} of ${done.matched} dead postbacks`)
      await load()
    } catch (cause) {
      setStatus(`Replay failed: ${message(cause)}`)
    }
  }

  const open = (id: number, element: HTMLElement | null) => {
    opener.current = element
    setSelected(id)
  }

  const close = () => {
    setSelected(null)
    const element = opener.current
    if (element?.isConnected) element.focus()
  }

  const set = <K extends keyof Filter>(key: K, value: Filter[K]) =>
    setDraft((previous) => ({ ...previous, [key]: value }))

  return (
    <div class="history">
      <form
        class="filters card"
        aria-label="Filters"
        onSubmit={(event) => {
          event.preventDefault()
          setFilter(draft)
        }}
      >
        <div class="field">
          <label for="f-preset">Received</label>
          <select
            id="f-preset"
            value={draft.preset}
            onChange={(event) => set("preset", event.currentTarget.value as Filter["preset"])}
          >
            {PRESETS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {draft.preset === "custom" && (
          <>
            <div class="field">
              <label for="f-from">From (your time)</label>
              <input
                id="f-from"
                type="datetime-local"
                value={draft.receivedFrom}
                onInput={(event) => set("receivedFrom", event.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="f-to">To (your time, exclusive)</label>
              <input
                id="f-to"
                type="datetime-local"
                value={draft.receivedTo}
                onInput={(event) => set("receivedTo", event.currentTarget.value)}
              />
            </div>
          </>
        )}
        <div class="field">
          <label for="f-offer">Offer id</label>
          <input
            id="f-offer"
            value={draft.offerId}
            onInput={(event) => set("offerId", event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="f-advertiser">Advertiser</label>
          <input
            id="f-advertiser"
            value={draft.advertiser}
            onInput={(event) => set("advertiser", event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="f-user">User id</label>
          <input
            id="f-user"
            value={draft.userId}
            onInput={(event) => set("userId", event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="f-lb">LoyaltyBoost</label>
          <select
            id="f-lb"
            value={draft.loyaltyBoost}
            onChange={(event) =>
              set("loyaltyBoost", event.currentTarget.value as Filter["loyaltyBoost"])
            }
          >
            <option value="">any</option>
            <option value="true">yes</option>
            <option value="false">no</option>
          </select>
        </div>
        <div class="field">
          <label for="f-source">Source</label>
          <select
            id="f-source"
            value={draft.source}
            onChange={(event) => set("source", event.currentTarget.value)}
          >
            <option value="">any</option>
            {SOURCES.map((source) => (
              <option key={source} value={source}>
                {source}
              </option>
            ))}
          </select>
        </div>
        <fieldset class="statuses">
          <legend>Status</legend>
          {STATUSES.map((name) => (
            <label key={name} class="check">
              <input
                type="checkbox"
                name="status"
                value={name}
                checked={draft.statuses.includes(name)}
                onChange={(event) =>
                  set(
                    "statuses",
                    event.currentTarget.checked
                      ? [...draft.statuses, name]
                      : draft.statuses.filter((s) => s !== name)
                  )
                }
              />
              {STATUS_LABELS[name] ?? name}
            </label>
          ))}
        </fieldset>
        <div class="checks">
          <label class="check">
            <input
              type="checkbox"
              checked={draft.flagged}
              onChange={(event) => set("flagged", event.currentTarget.checked)}
            />
            Flagged only
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={draft.hideTests}
              onChange={(event) => set("hideTests", event.currentTarget.checked)}
            />
            Hide test postbacks
          </label>
        </div>
        <div class="buttons">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setDraft(initialFilter)
              setFilter(initialFilter)
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <div class="toolbar">
        <button type="button" onClick={() => void load()} disabled={loading}>
          Refresh
        </button>
        <label class="check">
          <input
            type="checkbox"
            checked={autoRefresh}
            onChange={(event) => setAutoRefresh(event.currentTarget.checked)}
          />
          Auto-refresh every 10 s
        </label>
        <button type="button" onClick={() => void download()}>
          Download CSV
        </button>
        <button type="button" onClick={() => void sendTest()}>
          Send test postback
        </button>
        <button type="button" class="secondary" onClick={() => void planReplay()}>
          Replay dead…
        </button>
        <span class="status-line">
          {loading ? "Loading…" : updatedAt === "" ? "" : `Updated at ${updatedAt}`}
        </span>
        <output class="status-line action-status" aria-live="polite">
          {status}
        </output>
      </div>
      {replayPlan !== null && (
        <div class="card confirm" role="alert">
          <p>
            {replayPlan === 0
              ? "No dead postback matches this filter."
              : `${replayPlan} dead postback${replayPlan === 1 ? "" : "s"} match this filter.`}
          </p>
          {replayPlan > 0 && (
            <button type="button" onClick={() => void replayAll()}>
              Replay {replayPlan}
            </button>
          )}
          <button type="button" class="secondary" onClick={() => setReplayPlan(null)}>
            Cancel
          </button>
        </div>
      )}

      <SummaryTiles summary={summary} error={errors.summary} timeZone={timeZone} />
      {series !== null ? (
        <SeriesChart series={series} />
      ) : (
        errors.series !== undefined && <p class="error">Chart unavailable: {errors.series}</p>
      )}

      <section aria-labelledby="table-title">
        <h2 id="table-title">Delivery log</h2>
        {errors.list !== undefined && (
          <p class="error" role="alert">
            {errors.list}
          </p>
        )}
        <div class="table-scroll">
          <table class="postbacks">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Received ({timeZone})</th>
                <th scope="col">Status</th>
                <th scope="col">Offer</th>
                <th scope="col">Advertiser</th>
                <th scope="col">Payout</th>
                <th scope="col">User</th>
                <th scope="col">Points</th>
                <th scope="col">LB</th>
                <th scope="col">Source</th>
                <th scope="col">HTTP</th>
                <th scope="col">Deliveries</th>
                <th scope="col">Reason / flags</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr
                  key={item.id}
                  data-id={item.id}
                  class={item.id === highlight ? "highlight" : undefined}
                >
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-label={`Open postback ${item.id}`}
                      onClick={(event) => open(item.id, event.currentTarget)}
                    >
                      #{item.id}
                    </button>
                    {item.test && <TestBadge />}
                  </td>
                  <td class="nowrap">{formatTime(item.receivedAt, timeZone)}</td>
                  <td>
                    <StatusBadge status={item.status} />
                  </td>
                  <td>{item.offerId ?? "—"}</td>
                  <td class="wrap">{item.advertiserName ?? "—"}</td>
                  <td class="num">{formatUsd(item.payout)}</td>
                  <td>{item.userId ?? "—"}</td>
                  <td class="num">{formatPoints(item.points)}</td>
                  <td>{item.isLoyaltyBoost === null ? "—" : item.isLoyaltyBoost ? "yes" : "no"}</td>
                  <td>{item.source}</td>
                  <td class="num">{item.lastHttpStatus ?? "—"}</td>
                  <td class="num">{item.deliveryCount}</td>
                  <td class="reason">
                    {item.error ?? ""}
                    {(item.flags ?? []).length > 0 && (
                      <span class="flags">
                        {(item.flags ?? []).map((flag) => flag.code).join(", ")}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {items.length === 0 && !loading && errors.list === undefined && (
          <p class="empty">No postback matches this filter.</p>
        )}
        {nextCursor !== null && (
          <button type="button" class="secondary more" onClick={() => void loadMore()}>
            Load more
          </button>
        )}
      </section>

      {selected !== null && (
        <Detail
          session={props.session}
          id={selected}
          timeZone={timeZone}
          onClose={close}
          onChanged={() => void load()}
        />
      )}
    </div>
  )
}

const Tile = (props: {
  readonly label: string
  readonly value: string
  readonly kind?: string
}) => (
  <div class={`tile ${props.kind ?? ""}`}>
    <span class="tile-label">{props.label}</span>
    <span class="tile-value">{props.value}</span>
  </div>
)

const SummaryTiles = (props: {
  readonly summary: Summary | null
  readonly error: string | undefined
  readonly timeZone: string
}) => {
  const { summary } = props
  if (summary === null) {
    return props.error === undefined ? null : (
      <p class="error">Summary unavailable: {props.error}</p>
    )
  }
  const range =
    summary.from === null && summary.to === null
      ? "all time"
      : `${formatTime(summary.from, summary.timeZone)} to ${formatTime(summary.to, summary.timeZone)} (${summary.timeZone})`
  return (
    <section class="summary" aria-labelledby="summary-title">
      <h2 id="summary-title">Summary: {range}</h2>
      <div class="tiles">
        <Tile label="Postbacks" value={String(summary.total)} />
        <Tile label="Payout total" value={formatUsd(summary.payoutTotal)} />
        <Tile label="Points total" value={formatPoints(summary.pointsTotal)} />
        <Tile label="Duplicates" value={String(summary.duplicates)} />
        <Tile label="Distinct users" value={String(summary.distinctUsers)} />
        {Object.entries(summary.byStatus)
          .filter(([, count]) => count > 0)
          .map(([name, count]) => (
            <div key={name} class="tile">
              <span class="tile-label">
                <StatusBadge status={name} />
              </span>
              <span class="tile-value">{count}</span>
            </div>
          ))}
      </div>
    </section>
  )
}
