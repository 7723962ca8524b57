import { useEffect, useState } from "preact/hooks"
import type { Session } from "./App.tsx"
import type { ApiError, Page, RewardTransaction, UserLedger, UserRow } from "./api.ts"
import { formatPoints, formatTime, formatUsd } from "./format.ts"

const PAGE_SIZE = 25

const message = (cause: unknown): string => (cause as ApiError).message ?? String(cause)

/** Users: search by id, then a user's balance and reward transactions, page by page. */
export const Users = (props: { readonly session: Session }) => {
  const { api } = props.session
  const [search, setSearch] = useState("")
  const [users, setUsers] = useState<ReadonlyArray<UserRow>>([])
  const [usersCursor, setUsersCursor] = useState<string | null>(null)
  const [selected, setSelected] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  const find = async (cursor: string | null) => {
    try {
      const page = await api.get<Page<UserRow>>("/api/users", {
        search: search.trim(),
        limit: String(PAGE_SIZE),
        cursor: cursor ?? undefined
      })
      setUsers((previous) => (cursor === null ? page.items : [...previous, ...page.items]))
      setUsersCursor(page.nextCursor)
      setError(null)
    } catch (cause) {
      setError(message(cause))
    }
  }

  useEffect(() => {
    void find(null)
  }, [])

  return (
    <div class="users">
      <form
        class="card search"
        aria-label="Search users"
        onSubmit={(event) => {
          event.preventDefault()
          void find(null)
        }}
      >
        <div class="field">
          <label for="user-search">User id (or part of it)</label>
          <input
            id="user-search"
            type="search"
            value={search}
            onInput={(event) => setSearch(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Search</button>
      </form>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="users-layout">
        <section aria-labelledby="users-title">
          <h2 id="users-title">Users</h2>
          {users.length === 0 ? (
            <p class="empty">No user found.</p>
          ) : (
            <div class="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">User id</th>
                    <th scope="col">Balance (points)</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {users.map((user) => (
                    <tr
                      key={user.userId}
                      class={user.userId === selected ? "highlight" : undefined}
                    >
                      <td>
                        <button type="button" class="link" onClick={() => setSelected(user.userId)}>
                          {user.userId}
                        </button>
                      </td>
                      <td class="num">{formatPoints(user.balance)}</td>
                      <td class="nowrap">{formatTime(user.updatedAt, "UTC")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {usersCursor !== null && (
            <button type="button" class="secondary more" onClick={() => void find(usersCursor)}>
              More users
            </button>
          )}
        </section>
        {selected !== null && <UserDetail session={props.session} userId={selected} />}
      </div>
    </div>
  )
}

const UserDetail = (props: { readonly session: Session; readonly userId: string }) => {
  const { api } = props.session
  const [ledger, setLedger] = useState<UserLedger | null>(null)
  const [transactions, setTransactions] = useState<ReadonlyArray<RewardTransaction>>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const path = `/api/users/${encodeURIComponent(props.userId)}`

  const page = async (from: string | null) => {
    try {
      const next = await api.get<Page<RewardTransaction>>(`${path}/transactions`, {
        limit: String(PAGE_SIZE),
        cursor: from ?? undefined
      })
      setTransactions((previous) => (from === null ? next.items : [...previous, ...next.items]))
      setCursor(next.nextCursor)
    } catch (cause) {
      setError(message(cause))
    }
  }

  useEffect(() => {
    setLedger(null)
    setError(null)
    api
      .get<UserLedger>(path, { limit: "1" })
      .then(setLedger)
      .catch((cause) => setError(message(cause)))
    void page(null)
  }, [path])

  return (
    <section class="card user" aria-labelledby="user-title">
      <h2 id="user-title">User {props.userId}</h2>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {ledger !== null && (
        <p class="balance">
          Balance: <strong>{formatPoints(ledger.balance)}</strong> points
        </p>
      )}
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">At (UTC)</th>
              <th scope="col">Postback</th>
              <th scope="col">Offer</th>
              <th scope="col">Payout</th>
              <th scope="col">Points</th>
              <th scope="col">Kind</th>
            </tr>
          </thead>
          <tbody>
            {transactions.map((entry) => (
              <tr key={entry.id}>
                <td class="nowrap">{formatTime(entry.createdAt, "UTC")}</td>
                <td>#{entry.postbackId}</td>
                <td>{entry.offerId ?? "—"}</td>
                <td class="num">{formatUsd(entry.payout)}</td>
                <td class="num">{formatPoints(entry.points)}</td>
                <td>{entry.points.startsWith("-") ? "reversal" : "credit"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor !== null && (
        <button type="button" class="secondary more" onClick={() => void page(cursor)}>
          More transactions
        </button>
      )}
    </section>
  )
}
