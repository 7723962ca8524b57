/**
 * The names the console shares with the API: statuses, sources and date
 * presets. The page cannot import them from the receiver's sources (they
 * bring drizzle and Node along), so they are copied here, and
 * `test/Page.test.ts` checks each list equals the receiver's own.
 * This module touches no DOM, so that test can import it.
 */

/** The statuses of a stored postback (`POSTBACK_STATUSES` in `src/Db/schema.ts`). */
export const STATUSES = [
  "pending",
  "processing",
  "credited",
  "recorded",
  "unattributed",
  "held",
  "rejected",
  "dead",
  "reversed",
  "repaired"
] as const

/** How a postback arrived (`POSTBACK_SOURCES` in `src/Admin/Filter.ts`). */
export const SOURCES = ["get", "get-template", "post-json", "post-form"] as const

/** The filter's date presets (`FILTER_PRESETS` in `src/Admin/Filter.ts`), computed in the console's time zone. */
export const PRESET_NAMES = [
  "today",
  "yesterday",
  "last_7_days",
  "last_30_days",
  "this_month",
  "last_month"
] as const
