import { useMemo, useState } from "preact/hooks"
import { type Api, type ApiError, checkToken, makeApi } from "./api.ts"
import { Destinations } from "./Destinations.tsx"
import { History } from "./History.tsx"
import { Reconcile } from "./Reconcile.tsx"
import { SpoolBanner } from "./SpoolBanner.tsx"
import { Users } from "./Users.tsx"

const TOKEN_KEY = "receiver.adminToken"
const OPERATOR_KEY = "receiver.operator"

/** What the whole console shares: the API with the token, and who acts. */
export interface Session {
  readonly api: Api
  /** The operator name recorded in the audit trail (`"admin"` when none is given). */
  readonly operator: string
}

/**
 * The console: a token form until an admin token is accepted (kept in
 * `sessionStorage`, so for this browser tab's session only), then the
 * postback history, the users, and the reconciliation against
 * MomentScience's export.
 */
export const App = () => {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY))
  const [operator, setOperator] = useState<string>(() => sessionStorage.getItem(OPERATOR_KEY) ?? "")
  const [notice, setNotice] = useState<string | null>(null)
  const [tab, setTab] = useState<"postbacks" | "users" | "reconciliation" | "destinations">(
    "postbacks"
  )

  const signOut = (message: string | null) => {
    sessionStorage.removeItem(TOKEN_KEY)
    setToken(null)
    setNotice(message)
  }

  const api = useMemo(
    () =>
      token === null
        ? null
        : makeApi(token, (error: ApiError) =>
            signOut(`The receiver refused the admin token: ${error.message}`)
          ),
    [token]
  )

  if (token === null || api === null) {
    return (
      <SignIn
        notice={notice}
        operator={operator}
        onSignIn={(accepted, name) => {
          sessionStorage.setItem(TOKEN_KEY, accepted)
          sessionStorage.setItem(OPERATOR_KEY, name)
          setOperator(name)
          setNotice(null)
          setToken(accepted)
        }}
      />
    )
  }

  const session: Session = { api, operator: operator.trim() === "" ? "admin" : operator.trim() }
  return (
    <div class="console">
      <header class="topbar">
        <h1>Postback receiver</h1>
        <nav class="tabs" aria-label="Views">
          <button
            type="button"
            class="tab"
            aria-pressed={tab === "postbacks"}
            onClick={() => setTab("postbacks")}
          >
            Postbacks
          </button>
          <button
            type="button"
            class="tab"
            aria-pressed={tab === "users"}
            onClick={() => setTab("users")}
          >
            Users
          </button>
          <button
            type="button"
            class="tab"
            aria-pressed={tab === "reconciliation"}
            onClick={() => setTab("reconciliation")}
          >
            Reconciliation
          </button>
          <button
            type="button"
            class="tab"
            aria-pressed={tab === "destinations"}
            onClick={() => setTab("destinations")}
          >
            Destinations
          </button>
        </nav>
        <span class="operator">
          Operator: <strong>{session.operator}</strong>
        </span>
        <button type="button" class="secondary" onClick={() => signOut("Signed out.")}>
          Sign out
        </button>
      </header>
      <SpoolBanner />
      <main>
        {/* The history stays mounted behind the users view, so its filter and pages survive. */}
        <div hidden={tab !== "postbacks"}>
          <History session={session} />
        </div>
        {tab === "users" && <Users session={session} />}
        {tab === "reconciliation" && <Reconcile session={session} />}
        {tab === "destinations" && <Destinations session={session} />}
      </main>
    </div>
  )
}

const SignIn = (props: {
  readonly notice: string | null
  readonly operator: string
  readonly onSignIn: (token: string, operator: string) => void
}) => {
  const [token, setToken] = useState("")
  const [operator, setOperator] = useState(props.operator)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await checkToken(token.trim())
      props.onSignIn(token.trim(), operator)
    } catch (cause) {
      const apiError = cause as ApiError
      setError(
        apiError.status === 401
          ? `The token was refused (401): ${apiError.message}. Use the receiver's ADMIN_TOKEN.`
          : `Could not check the token: ${apiError.message}`
      )
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="signin">
      <form class="card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Operator console</h1>
        <p>
          Enter the receiver's admin token (<code>ADMIN_TOKEN</code>). It is kept for this browser
          tab only, until you sign out or close it.
        </p>
        {props.notice !== null && <p class="notice">{props.notice}</p>}
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          required
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
        />
        <label for="operator">Your name (for the audit trail, optional)</label>
        <input
          id="operator"
          name="operator"
          type="text"
          placeholder="admin"
          value={operator}
          onInput={(event) => setOperator(event.currentTarget.value)}
        />
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  )
}
