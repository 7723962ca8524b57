import type { Query } from "./api.ts"
import type { PRESET_NAMES } from "./contract.ts"

/** The received ranges the form offers: the API's presets, a custom range, or all time. */
export const PRESETS: ReadonlyArray<readonly [Preset, string]> = [
  ["today", "Today"],
  ["yesterday", "Yesterday"],
  ["last_7_days", "Last 7 days"],
  ["last_30_days", "Last 30 days"],
  ["this_month", "This month"],
  ["last_month", "Last month"],
  ["custom", "Custom range"],
  ["all", "All time"]
]

export type Preset = (typeof PRESET_NAMES)[number] | "custom" | "all"

/**
 * The console's filter, as the form holds it: the query parameters of `GET
 * /api/postbacks`, `/summary`, `/series` and `/export.csv` (`src/Admin/Filter.ts`).
 */
export interface Filter {
  readonly preset: Preset
  /** `datetime-local` values, in the browser's time zone (custom range only). */
  readonly receivedFrom: string
  readonly receivedTo: string
  readonly statuses: ReadonlyArray<string>
  readonly offerId: string
  readonly advertiser: string
  readonly userId: string
  readonly loyaltyBoost: "" | "true" | "false"
  readonly source: string
  readonly flagged: boolean
  readonly hideTests: boolean
}

export const initialFilter: Filter = {
  preset: "today",
  receivedFrom: "",
  receivedTo: "",
  statuses: [],
  offerId: "",
  advertiser: "",
  userId: "",
  loyaltyBoost: "",
  source: "",
  flagged: false,
  hideTests: false
}

const instant = (local: string): string | undefined => {
  if (local === "") return undefined
  const date = new Date(local)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

/** The filter as query parameters (empty ones left out). */
export const filterQuery = (filter: Filter): Query => ({
  preset: filter.preset === "custom" || filter.preset === "all" ? undefined : filter.preset,
  receivedFrom: filter.preset === "custom" ? instant(filter.receivedFrom) : undefined,
  receivedTo: filter.preset === "custom" ? instant(filter.receivedTo) : undefined,
  status: filter.statuses.length === 0 ? undefined : filter.statuses.join(","),
  offerId: filter.offerId.trim(),
  advertiser: filter.advertiser.trim(),
  userId: filter.userId.trim(),
  loyaltyBoost: filter.loyaltyBoost,
  source: filter.source,
  flagged: filter.flagged ? "true" : undefined,
  test: filter.hideTests ? "false" : undefined
})

/** Hours for a range of up to two days, days beyond. */
export const seriesBucket = (filter: Filter): "hour" | "day" => {
  if (filter.preset === "today" || filter.preset === "yesterday") return "hour"
  if (filter.preset === "custom") {
    const from = instant(filter.receivedFrom)
    const to = instant(filter.receivedTo) ?? new Date().toISOString()
    if (from !== undefined && Date.parse(to) - Date.parse(from) <= 2 * 86_400_000) return "hour"
  }
  return "day"
}

/**
 * The filter as the JSON body of `POST /api/postbacks/replay` takes it: the
 * same fields as {@link filterQuery}, with booleans as JSON booleans.
 */
export const filterBody = (filter: Filter): Readonly<Record<string, string | boolean>> => {
  const body: Record<string, string | boolean> = {}
  for (const [key, value] of Object.entries(filterQuery(filter))) {
    if (value === undefined || value === "") continue
    body[key] =
      key === "loyaltyBoost" || key === "flagged" || key === "test" ? value === "true" : value
  }
  return body
}
