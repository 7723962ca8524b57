import { useEffect, useState } from "preact/hooks"
import type { Session } from "./App.tsx"
import type { ApiError } from "./api.ts"
import { formatTime, formatUsd } from "./format.ts"

/**
 * The reconciliation panel: upload MomentScience's postback history export
 * (`POST /api/reconciliations`), read the stored report (totals per
 * category, the rows that need a person), download it as CSV, and send the
 * lost conversions through the ingest route ("Re-ingest lost").
 */

/** Count and payout sum (USD, decimal text) of a category. */
interface CategoryTotal {
  readonly count: number
  readonly payout: string
}

/** A stored report's summary (`ReconciliationSummary` in `src/Reconcile/Schemas.ts`). */
interface Summary {
  readonly id: number
  readonly source: string
  readonly createdAt: string
  readonly from: string | null
  readonly to: string | null
  readonly exportRows: number
  readonly categories: Readonly<Record<string, CategoryTotal>>
  readonly responseCodeMismatches: number
  readonly recoverable: number
  readonly alarming: boolean
}

/** One row of a report. */
interface Row {
  readonly id: number
  readonly category: string
  readonly line: number | null
  readonly occurredAt: string | null
  readonly offerId: string | null
  readonly payout: string | null
  readonly responseCode: number | null
  readonly userId: string | null
  readonly postbackId: number | null
  readonly status: string | null
  readonly mismatch: string | null
  readonly problem: string | null
}

interface Reingested {
  readonly sent: number
  readonly stored: number
  readonly duplicates: number
  readonly failed: ReadonlyArray<{ readonly line: number | null; readonly message: string }>
  readonly summary: Summary
}

const CATEGORIES: ReadonlyArray<readonly [string, string]> = [
  ["missing", "Delivered at MomentScience, absent here (alarm)"],
  ["lost", "Lost: failed at MomentScience, absent here"],
  ["unreadable", "Unreadable lines"],
  ["payout_mismatch", "Payout mismatch"],
  ["stored_after_failure", "Failed at MomentScience, stored here"],
  ["unknown", "Stored here, unknown to MomentScience"],
  ["recovered", "Recovered by re-ingest"],
  ["delivered", "Delivered and stored"]
]

/** The rows shown under the totals: everything but the normal case. */
const ATTENTION = new Set([
  "missing",
  "lost",
  "unreadable",
  "payout_mismatch",
  "stored_after_failure",
  "unknown"
])

// The upload's body is the file itself, which the console's JSON client
// does not send: the same bearer token, from where the sign-in keeps it.
const TOKEN_KEY = "receiver.adminToken"

const message = (cause: unknown): string => (cause as ApiError).message ?? String(cause)

export const Reconcile = (props: { readonly session: Session }) => {
  const { api } = props.session
  const [file, setFile] = useState<File | null>(null)
  const [timeZone, setTimeZone] = useState("UTC")
  const [columns, setColumns] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [reports, setReports] = useState<ReadonlyArray<Summary>>([])
  const [summary, setSummary] = useState<Summary | null>(null)
  const [rows, setRows] = useState<ReadonlyArray<Row>>([])

  const loadList = async () => {
    try {
      const list = await api.get<{ items: ReadonlyArray<Summary> }>("/api/reconciliations", {
        limit: "20"
      })
      setReports(list.items)
    } catch (cause) {
      setError(message(cause))
    }
  }

  const open = async (id: number) => {
    try {
      const report = await api.get<{ summary: Summary; rows: ReadonlyArray<Row> }>(
        `/api/reconciliations/${id}`,
        { limit: "1000" }
      )
      setSummary(report.summary)
      setRows(report.rows.filter((row) => ATTENTION.has(row.category)))
      setError(null)
    } catch (cause) {
      setError(message(cause))
    }
  }

  useEffect(() => {
    void loadList()
  }, [])

  const upload = async (event: Event) => {
    event.preventDefault()
    if (file === null) return
    setBusy(true)
    setError(null)
    setNotice(null)
    try {
      const query = new URLSearchParams({ source: file.name, timeZone })
      if (columns.trim() !== "") query.set("columns", columns.trim())
      const response = await fetch(`/api/reconciliations?${query}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ""}`,
          "content-type": "text/csv"
        },
        body: file
      })
      const body = (await response.json()) as Summary & { message?: string }
      if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`)
      await open(body.id)
      await loadList()
    } catch (cause) {
      setError(message(cause))
    } finally {
      setBusy(false)
    }
  }

  const reingest = async () => {
    if (summary === null) return
    setBusy(true)
    try {
      const result = await api.post<Reingested>(`/api/reconciliations/${summary.id}/reingest`, {})
      setNotice(
        `Re-ingested ${result.stored} lost conversions (${result.duplicates} already stored${
          result.failed.length > 0 ? `, ${result.failed.length} refused` : ""
        }).`
      )
      await open(summary.id)
      await loadList()
    } catch (cause) {
      setError(message(cause))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="reconcile">
      <form class="card" aria-label="Reconcile an export" onSubmit={upload}>
        <h2>Reconcile MomentScience's postback history</h2>
        <p>
          Upload the CSV the MomentScience dashboard downloads: every conversion it lost or that is
          missing here is listed, and lost ones can be sent again.
        </p>
        <div class="field">
          <label for="reconcile-file">Export (CSV)</label>
          <input
            id="reconcile-file"
            type="file"
            accept=".csv,text/csv"
            onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)}
          />
        </div>
        <div class="field">
          <label for="reconcile-zone">Time zone of its timestamps</label>
          <input
            id="reconcile-zone"
            type="text"
            value={timeZone}
            onInput={(event) => setTimeZone(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="reconcile-columns">Column labels (optional: offer_id=Campaign,...)</label>
          <input
            id="reconcile-columns"
            type="text"
            value={columns}
            onInput={(event) => setColumns(event.currentTarget.value)}
          />
        </div>
        <button type="submit" disabled={busy || file === null}>
          {busy ? "Reconciling…" : "Reconcile"}
        </button>
      </form>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {notice !== null && <p class="notice">{notice}</p>}
      {summary !== null && (
        <section class="card" aria-labelledby="reconcile-report">
          <h2 id="reconcile-report">
            Report {summary.id}: {summary.source}
          </h2>
          <p>
            {summary.exportRows} export rows, {formatTime(summary.from, "UTC")} to{" "}
            {formatTime(summary.to, "UTC")} (UTC)
          </p>
          <table aria-label="Totals">
            <thead>
              <tr>
                <th>Category</th>
                <th>Rows</th>
                <th>Payout</th>
              </tr>
            </thead>
            <tbody>
              {CATEGORIES.map(([category, label]) => (
                <tr key={category} data-category={category}>
                  <td>{label}</td>
                  <td>{summary.categories[category]?.count ?? 0}</td>
                  <td>{formatUsd(summary.categories[category]?.payout ?? "0")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            <button
              type="button"
              disabled={busy || summary.recoverable === 0}
              onClick={() => void reingest()}
            >
              Re-ingest lost ({summary.recoverable})
            </button>{" "}
            <button
              type="button"
              class="secondary"
              onClick={() =>
                void api
                  .download(
                    `/api/reconciliations/${summary.id}/report.csv`,
                    {},
                    `reconciliation-${summary.id}.csv`
                  )
                  .catch((cause) => setError(message(cause)))
              }
            >
              Download CSV
            </button>
          </p>
          {rows.length > 0 && (
            <table aria-label="Rows that need a person">
              <thead>
                <tr>
                  <th>Line</th>
                  <th>Category</th>
                  <th>Event time</th>
                  <th>Offer</th>
                  <th>Payout</th>
                  <th>Code</th>
                  <th>User</th>
                  <th>Postback</th>
                  <th>Note</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id}>
                    <td>{row.line ?? "–"}</td>
                    <td>{row.category}</td>
                    <td>{formatTime(row.occurredAt, "UTC")}</td>
                    <td>{row.offerId ?? "–"}</td>
                    <td>{formatUsd(row.payout)}</td>
                    <td>{row.responseCode ?? "–"}</td>
                    <td>{row.userId ?? "–"}</td>
                    <td>{row.postbackId ?? "–"}</td>
                    <td>{row.problem ?? row.mismatch ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      {reports.length > 0 && (
        <section class="card" aria-labelledby="reconcile-list">
          <h2 id="reconcile-list">Earlier reports</h2>
          <ul>
            {reports.map((report) => (
              <li key={report.id}>
                <button type="button" class="link" onClick={() => void open(report.id)}>
                  {report.id}: {report.source}
                </button>{" "}
                ({formatTime(report.createdAt, "UTC")}; lost {report.categories.lost?.count ?? 0},
                missing {report.categories.missing?.count ?? 0})
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  )
}
