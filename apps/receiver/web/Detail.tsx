import { useCallback, useEffect, useRef, useState } from "preact/hooks"
import type { Session } from "./App.tsx"
import type { ApiError, PostbackDetail } from "./api.ts"
import {
  formatBoolean,
  formatJson,
  formatPoints,
  formatTime,
  formatUsd,
  STATUS_LABELS
} from "./format.ts"
import { StatusBadge, TestBadge } from "./Status.tsx"

const SETTLE_POLL_MS = 1_000

const message = (cause: unknown): string => {
  const error = cause as ApiError
  const issues = (error.issues ?? []).map((issue) => `${issue.path}: ${issue.message}`)
  return issues.length > 0 && !error.message.includes(issues[0]!)
    ? `${error.message} (${issues.join("; ")})`
    : (error.message ?? String(cause))
}

/**
 * One postback in a modal dialog: every stored field, its deliveries, the
 * raw request and problems, the reward explanation, its ledger entries, the
 * audit trail, and the actions its status allows. Escape closes it and the
 * focus goes back to the button that opened it (the caller's `onClose`).
 */
export const Detail = (props: {
  readonly session: Session
  readonly id: number
  readonly timeZone: string
  readonly onClose: () => void
  readonly onChanged: () => void
}) => {
  const { api } = props.session
  const dialog = useRef<HTMLDialogElement>(null)
  const [postback, setPostback] = useState<PostbackDetail | null>(null)
  const [error, setError] = useState<string | null>(null)
  // The last action's outcome, shown even once the new status allows no more actions.
  const [notice, setNotice] = useState<Notice | null>(null)
  const tz = props.timeZone

  const load = useCallback(async () => {
    try {
      setPostback(await api.get<PostbackDetail>(`/api/postbacks/${props.id}`))
      setError(null)
    } catch (cause) {
      setError(message(cause))
    }
  }, [api, props.id])

  useEffect(() => {
    const element = dialog.current
    if (element !== null && !element.open) element.showModal()
    void load()
  }, [load])

  // A postback waiting for the worker (after an approval, a replay, an
  // attribution) is read again each second until it settles; the history
  // refreshes when its status changes.
  const shownStatus = useRef<string | null>(null)
  const status = postback?.status ?? null
  useEffect(() => {
    if (status === null) return
    if (shownStatus.current !== null && shownStatus.current !== status) props.onChanged()
    shownStatus.current = status
    if (status !== "pending" && status !== "processing") return
    const timer = setTimeout(() => void load(), SETTLE_POLL_MS)
    return () => clearTimeout(timer)
  }, [status, postback, load])

  const changed = async () => {
    await load()
    props.onChanged()
  }

  return (
    <dialog
      ref={dialog}
      class="detail"
      aria-labelledby="detail-title"
      onClose={() => props.onClose()}
    >
      <div class="detail-head">
        <h2 id="detail-title">
          Postback #{props.id} {postback !== null && <StatusBadge status={postback.status} />}
          {postback?.test === true && <TestBadge />}
        </h2>
        <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {notice !== null && (
        <p class={notice.ok ? "ok" : "error"} role="status">
          {notice.text}
        </p>
      )}
      {postback === null ? (
        error === null && <p>Loading…</p>
      ) : (
        <div class="detail-body">
          <Actions
            session={props.session}
            postback={postback}
            onResult={setNotice}
            onDone={changed}
          />
          <section>
            <h3>Fields</h3>
            <dl class="fields">
              <Field name="Status" value={STATUS_LABELS[postback.status] ?? postback.status} />
              <Field name="Offer id" value={postback.offerId ?? "—"} />
              <Field name="Advertiser" value={postback.advertiserName ?? "—"} />
              <Field name="Payout" value={formatUsd(postback.payout)} />
              <Field name="Points" value={formatPoints(postback.points ?? null)} />
              <Field name="LoyaltyBoost" value={formatBoolean(postback.isLoyaltyBoost)} />
              <Field name="User id" value={postback.userId ?? "—"} />
              <Field name="Converted at" value={formatTime(postback.occurredAt, tz)} />
              <Field name="Received at" value={formatTime(postback.receivedAt, tz)} />
              <Field name="Processed at" value={formatTime(postback.processedAt, tz)} />
              <Field name="Source" value={postback.source} />
              <Field name="Deliveries" value={String(postback.deliveryCount)} />
              <Field name="Processing attempts" value={String(postback.attempts)} />
              <Field name="Last error" value={postback.lastError ?? "—"} />
              <Field name="Test" value={formatBoolean(postback.test ?? false)} />
            </dl>
          </section>
          <section>
            <h3>Payload</h3>
            {postback.payload === null || Object.keys(postback.payload).length === 0 ? (
              <p>None.</p>
            ) : (
              <dl class="fields payload">
                {Object.entries(postback.payload).map(([key, value]) => (
                  <Field key={key} name={key} value={value} />
                ))}
              </dl>
            )}
          </section>
          {((postback.flags ?? []).length > 0 || isSomething(postback.errors)) && (
            <section>
              <h3>Problems and flags</h3>
              <ul class="problems">
                {problems(postback.errors).map((problem, index) => (
                  <li key={`e${index}`}>{problem}</li>
                ))}
                {(postback.flags ?? []).map((flag, index) => (
                  <li key={`f${index}`}>
                    <code>{flag.code}</code> {flag.path === "" ? "" : `(${flag.path})`}{" "}
                    {flag.message}
                  </li>
                ))}
              </ul>
            </section>
          )}
          <section>
            <h3>Reward explanation</h3>
            {postback.outcome === null || postback.outcome === undefined ? (
              <p>None yet: the worker has not settled it.</p>
            ) : (
              <pre class="json">{formatJson(postback.outcome)}</pre>
            )}
          </section>
          <section>
            <h3>Ledger entries</h3>
            {(postback.transactions ?? []).length === 0 ? (
              <p>None: this postback has credited nobody.</p>
            ) : (
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Id</th>
                      <th scope="col">At</th>
                      <th scope="col">User</th>
                      <th scope="col">Points</th>
                      <th scope="col">Payout</th>
                      <th scope="col">Kind</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(postback.transactions ?? []).map((entry) => (
                      <tr key={entry.id}>
                        <td>{entry.id}</td>
                        <td class="nowrap">{formatTime(entry.createdAt, tz)}</td>
                        <td>{String(entry.userId ?? postback.userId ?? "—")}</td>
                        <td class="num">{formatPoints(entry.points)}</td>
                        <td class="num">{formatUsd(entry.payout)}</td>
                        <td>
                          {String(
                            entry.kind ?? (entry.points.startsWith("-") ? "reversal" : "credit")
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section>
            <h3>Deliveries</h3>
            {(postback.deliveries ?? []).length === 0 ? (
              <p>No delivery recorded.</p>
            ) : (
              <div class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Received</th>
                      <th scope="col">Source</th>
                      <th scope="col">Answered</th>
                      <th scope="col">ms</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(postback.deliveries ?? []).map((delivery) => (
                      <tr key={delivery.id ?? "first"}>
                        <td class="nowrap">{formatTime(delivery.receivedAt, tz)}</td>
                        <td>{delivery.source}</td>
                        <td class="num">{delivery.httpStatus}</td>
                        <td class="num">{delivery.answerMs ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          {postback.request !== null && postback.request !== undefined && (
            <section>
              <h3>Raw request</h3>
              <pre class="json">{formatJson(postback.request)}</pre>
            </section>
          )}
          <section>
            <h3>Audit trail</h3>
            {(postback.actions ?? []).length === 0 ? (
              <p>No operator action yet.</p>
            ) : (
              <ul class="audit">
                {(postback.actions ?? []).map((action) => (
                  <li key={action.id}>
                    <strong>{action.action}</strong> by {action.operator} at{" "}
                    {formatTime(action.at, tz)}
                    {action.reason === null ? "" : `: ${action.reason}`}
                    {isSomething(action.details) && (
                      <pre class="json">{formatJson(action.details)}</pre>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      )}
    </dialog>
  )
}

const Field = (props: { readonly name: string; readonly value: string }) => (
  <>
    <dt>{props.name}</dt>
    <dd>{props.value}</dd>
  </>
)

const isSomething = (value: unknown): boolean =>
  value !== null &&
  value !== undefined &&
  !(Array.isArray(value) && value.length === 0) &&
  !(typeof value === "object" && Object.keys(value as object).length === 0)

/** A rejected row's problems (`[{ path, message }]`) or a held row's reasons, as lines of text. */
const problems = (errors: unknown): ReadonlyArray<string> => {
  if (!isSomething(errors)) return []
  const list = Array.isArray(errors) ? errors : [errors]
  return list.map((item) => {
    if (typeof item === "string") return item
    const { path, message: text } = item as { path?: unknown; message?: unknown }
    if (typeof text === "string")
      return typeof path === "string" && path !== "" ? `${path}: ${text}` : text
    return JSON.stringify(item)
  })
}

/** The outcome of an action, as the dialog reports it. */
interface Notice {
  readonly ok: boolean
  readonly text: string
}

/** What an action sends besides `operator` and `reason`. */
type ActionBody = Readonly<Record<string, unknown>>

/** The actions a postback's status allows, each with a reason where the API takes one. */
const Actions = (props: {
  readonly session: Session
  readonly postback: PostbackDetail
  readonly onResult: (notice: Notice | null) => void
  readonly onDone: () => Promise<void>
}) => {
  const { api, operator } = props.session
  const { postback } = props
  const [reason, setReason] = useState("")
  const [userId, setUserId] = useState("")
  const [busy, setBusy] = useState(false)

  const run = async (action: string, label: string, body: ActionBody = {}) => {
    setBusy(true)
    props.onResult(null)
    try {
      const answer = await api.post<Record<string, unknown>>(
        `/api/postbacks/${postback.id}/${action}`,
        { operator, ...(reason.trim() === "" ? {} : { reason: reason.trim() }), ...body }
      )
      const newId = typeof answer.id === "number" && answer.id !== postback.id ? answer.id : null
      props.onResult({
        ok: true,
        text: `${label}: done${newId === null ? "" : ` (postback #${newId})`}.`
      })
      setReason("")
      await props.onDone()
    } catch (cause) {
      props.onResult({ ok: false, text: `${label} refused: ${message(cause)}` })
    } finally {
      setBusy(false)
    }
  }

  const available = actionsFor(postback.status)
  if (available.length === 0) return null
  const needsReason = available.some((a) => a === "reject" || a === "reverse")

  return (
    <section class="actions card" aria-labelledby="actions-title">
      <h3 id="actions-title">Actions</h3>
      <div class="field">
        <label for="action-reason">
          Reason{needsReason ? " (required to reject or reverse)" : " (optional)"}
        </label>
        <input
          id="action-reason"
          value={reason}
          onInput={(event) => setReason(event.currentTarget.value)}
        />
      </div>
      <div class="buttons">
        {available.includes("approve") && (
          <button type="button" disabled={busy} onClick={() => void run("approve", "Approve")}>
            Approve
          </button>
        )}
        {available.includes("reject") && (
          <button
            type="button"
            class="danger"
            disabled={busy || reason.trim() === ""}
            onClick={() => void run("reject", "Reject")}
          >
            Reject
          </button>
        )}
        {available.includes("replay") && (
          <button type="button" disabled={busy} onClick={() => void run("replay", "Replay")}>
            Replay
          </button>
        )}
        {available.includes("reverse") && (
          <button
            type="button"
            class="danger"
            disabled={busy || reason.trim() === ""}
            onClick={() => void run("reverse", "Reverse")}
          >
            Reverse the credit
          </button>
        )}
      </div>
      {available.includes("attribute") && (
        <form
          class="inline-form"
          onSubmit={(event) => {
            event.preventDefault()
            void run("attribute", "Attribute", { userId: userId.trim() })
          }}
        >
          <div class="field">
            <label for="attribute-user">Credit to user id</label>
            <input
              id="attribute-user"
              required
              value={userId}
              onInput={(event) => setUserId(event.currentTarget.value)}
            />
          </div>
          <button type="submit" disabled={busy}>
            Attribute
          </button>
        </form>
      )}
      {available.includes("repair") && (
        <RepairForm
          postback={postback}
          busy={busy}
          onRepair={(fields) => void run("repair", "Repair", { fields })}
        />
      )}
    </section>
  )
}

const actionsFor = (status: string): ReadonlyArray<string> => {
  switch (status) {
    case "held":
      return ["approve", "reject"]
    case "unattributed":
      return ["attribute"]
    case "dead":
      return ["replay"]
    case "credited":
      return ["reverse"]
    case "rejected":
      return ["repair"]
    default:
      return []
  }
}

const REPAIR_FIELDS = [
  ["offer_id", "offer_id"],
  ["advertiser_name", "advertiser_name"],
  ["payout", "payout (USD, e.g. 2.10)"],
  ["timestamp", "timestamp (ISO 8601)"],
  ["is_loyaltyboost", "is_loyaltyboost (1 or 0)"]
] as const

/** A rejected postback's corrected fields; only the filled ones are sent. */
const RepairForm = (props: {
  readonly postback: PostbackDetail
  readonly busy: boolean
  readonly onRepair: (fields: Readonly<Record<string, unknown>>) => void
}) => {
  const [values, setValues] = useState<Readonly<Record<string, string>>>({})
  const [payload, setPayload] = useState("")
  const [problem, setProblem] = useState<string | null>(null)

  const submit = (event: Event) => {
    event.preventDefault()
    const fields: Record<string, unknown> = {}
    for (const [name] of REPAIR_FIELDS) {
      const value = values[name]?.trim() ?? ""
      if (value !== "") fields[name] = value
    }
    if (payload.trim() !== "") {
      try {
        const parsed: unknown = JSON.parse(payload)
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new Error("not an object")
        }
        fields.payload = parsed
      } catch {
        setProblem('payload: enter a JSON object of strings, e.g. {"user_id": "42"}')
        return
      }
    }
    if (Object.keys(fields).length === 0) {
      setProblem("Fill in at least one corrected field.")
      return
    }
    setProblem(null)
    props.onRepair(fields)
  }

  return (
    <form class="repair" onSubmit={submit} aria-label="Repair and re-ingest">
      <p>Correct the fields and re-ingest the stored request (empty fields keep what was sent).</p>
      {REPAIR_FIELDS.map(([name, label]) => (
        <div class="field" key={name}>
          <label for={`repair-${name}`}>{label}</label>
          <input
            id={`repair-${name}`}
            value={values[name] ?? ""}
            onInput={(event) => {
              const value = event.currentTarget.value
              setValues((previous) => ({ ...previous, [name]: value }))
            }}
          />
        </div>
      ))}
      <div class="field">
        <label for="repair-payload">payload (JSON object)</label>
        <textarea
          id="repair-payload"
          rows={3}
          value={payload}
          onInput={(event) => setPayload(event.currentTarget.value)}
        />
      </div>
      {problem !== null && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" disabled={props.busy}>
        Repair and re-ingest
      </button>
    </form>
  )
}
