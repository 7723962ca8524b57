/**
 * The admin API as the console page uses it: JSON shapes of the answers (as
 * `src/Api.ts` encodes them: times as ISO 8601 strings, USD and points as
 * decimal strings) and a client that sends the bearer token.
 */

export { SOURCES, STATUSES } from "./contract.ts"

/** What the ingest core normalised or doubted on the way in. */
export interface Flag {
  readonly code: string
  readonly path: string
  readonly message: string
}

/** One row of `GET /api/postbacks`. */
export interface PostbackItem {
  readonly id: number
  readonly receivedAt: string
  readonly occurredAt: string | null
  readonly offerId: string | null
  readonly advertiserName: string | null
  /** USD, exact decimal text. */
  readonly payout: string | null
  readonly isLoyaltyBoost: boolean | null
  readonly userId: string | null
  readonly status: string
  readonly source: string
  readonly lastHttpStatus: number | null
  readonly deliveryCount: number
  /** Whole points, decimal text. */
  readonly points: string | null
  readonly flags: ReadonlyArray<Flag> | null
  readonly error: string | null
  readonly test: boolean
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor: string | null
}

export interface Delivery {
  /** Null for the postback's first delivery (kept on its row). */
  readonly id: number | null
  readonly receivedAt: string
  readonly source: string
  readonly httpStatus: number
  readonly answerMs: number | string | null
}

export interface AuditAction {
  readonly id: number
  readonly action: string
  readonly operator: string
  readonly at: string
  readonly reason: string | null
  readonly details: unknown
}

export interface RewardTransaction {
  readonly id: number
  readonly postbackId: number
  readonly offerId: string | null
  readonly points: string
  readonly payout: string
  readonly explanation: unknown
  readonly createdAt: string
  readonly [key: string]: unknown
}

/** `GET /api/postbacks/:id`: every stored field, its deliveries, audit trail and ledger entries. */
export interface PostbackDetail {
  readonly id: number
  readonly status: string
  readonly source: string
  readonly offerId: string | null
  readonly advertiserName: string | null
  readonly payout: string | null
  readonly occurredAt: string | null
  readonly isLoyaltyBoost: boolean | null
  readonly payload: Readonly<Record<string, string>> | null
  readonly userId: string | null
  readonly receivedAt: string
  readonly deliveryCount: number
  readonly attempts: number
  readonly processedAt: string | null
  readonly outcome: unknown
  readonly lastError: string | null
  readonly flags: ReadonlyArray<Flag> | null
  readonly request: unknown
  readonly errors: unknown
  readonly points?: string | null
  readonly test?: boolean
  readonly deliveries?: ReadonlyArray<Delivery>
  readonly actions?: ReadonlyArray<AuditAction>
  readonly transactions?: ReadonlyArray<RewardTransaction>
  readonly [key: string]: unknown
}

/** `GET /api/postbacks/summary`. */
export interface Summary {
  readonly total: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly payoutTotal: string
  readonly pointsTotal: string
  readonly duplicates: number
  readonly distinctUsers: number
  readonly from: string | null
  readonly to: string | null
  readonly timeZone: string
}

/** `GET /api/postbacks/series`. */
export interface Series {
  readonly bucket: "hour" | "day"
  readonly timeZone: string
  readonly buckets: ReadonlyArray<{
    readonly start: string
    readonly byStatus: Readonly<Record<string, number>>
  }>
}

export interface UserRow {
  readonly userId: string
  readonly balance: string
  readonly updatedAt: string | null
}

export interface UserLedger {
  readonly userId: string
  readonly balance: string
  readonly transactions: ReadonlyArray<RewardTransaction>
}

/** `POST /api/test-postback`. */
export interface TestPostbackAnswer {
  readonly id: number | null
  readonly status: string
  readonly httpStatus: number
}

/** An answer that is not a 2xx, with the API's error body `{ error, message, issues? }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }> = []
  ) {
    super(message)
  }
}

/** Query parameters: empty values are left out. */
export type Query = Readonly<Record<string, string | undefined>>

export const queryString = (query: Query): string => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, value)
  }
  const text = params.toString()
  return text === "" ? "" : `?${text}`
}

const toError = async (response: Response): Promise<ApiError> => {
  const text = await response.text()
  try {
    const body = JSON.parse(text) as { error?: string; message?: string; issues?: [] }
    return new ApiError(
      response.status,
      body.error ?? `http_${response.status}`,
      body.message ?? text,
      body.issues ?? []
    )
  } catch {
    return new ApiError(
      response.status,
      `http_${response.status}`,
      `HTTP ${response.status} ${response.statusText}${text === "" ? "" : `: ${text.slice(0, 200)}`}`
    )
  }
}

/** The admin API with one bearer token. Every method rejects with an {@link ApiError}. */
export interface Api {
  readonly get: <A>(path: string, query?: Query) => Promise<A>
  readonly post: <A>(path: string, body: unknown) => Promise<A>
  /** Downloads `path` as a file, keeping the token in a header (never in the URL). */
  readonly download: (path: string, query: Query, fallbackName: string) => Promise<string>
}

export const makeApi = (token: string, onUnauthorized: (error: ApiError) => void): Api => {
  const send = async (path: string, init: RequestInit = {}): Promise<Response> => {
    let response: Response
    try {
      response = await fetch(path, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${token}` }
      })
    } catch (cause) {
      throw new ApiError(0, "network", `the receiver does not answer (${String(cause)})`)
    }
    if (!response.ok) {
      const error = await toError(response)
      if (response.status === 401) onUnauthorized(error)
      throw error
    }
    return response
  }
  return {
    get: async <A>(path: string, query: Query = {}) =>
      (await (await send(`${path}${queryString(query)}`)).json()) as A,
    post: async <A>(path: string, body: unknown) =>
      (await (
        await send(path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body)
        })
      ).json()) as A,
    download: async (path, query, fallbackName) => {
      const response = await send(`${path}${queryString(query)}`)
      const disposition = response.headers.get("content-disposition") ?? ""
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName
      const url = URL.createObjectURL(await response.blob())
      try {
        const link = document.createElement("a")
        link.href = url
        link.download = name
        link.hidden = true
        document.body.append(link)
        link.click()
        link.remove()
      } finally {
        // The browser reads the Blob after the click returns: the URL is
        // released a minute later, not at once (an early revoke cancels it).
        setTimeout(() => URL.revokeObjectURL(url), 60_000)
      }
      return name
    }
  }
}

/** Checks a token against the API (a 401 means it is wrong) with its cheapest read: one audit entry. */
export const checkToken = async (token: string): Promise<void> => {
  const response = await fetch("/api/actions?limit=1", {
    headers: { authorization: `Bearer ${token}` }
  })
  if (!response.ok) throw await toError(response)
}

/** The local spool as `/healthz` reports it (absent when `SPOOL_DIR` is not set). */
export interface SpoolHealth {
  readonly state: "idle" | "spooling" | "replaying" | "stopped"
  readonly entries: number
  readonly bytes: number
  readonly oldestAgeSeconds: number
  readonly problem: string | null
}

/** `GET /healthz`'s spool (no token: it answers while the database is away). */
export const spoolHealth = async (): Promise<SpoolHealth | undefined> => {
  const response = await fetch("/healthz")
  if (!response.ok) throw await toError(response)
  return ((await response.json()) as { spool?: SpoolHealth }).spool
}
