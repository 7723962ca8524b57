/**
 * How the console shows values. Amounts stay decimal strings from the API to
 * the screen: USD and points are never parsed into floating point (points are
 * grouped through `BigInt`, which is exact at any size).
 */

/** `2026-11-30 14:05:09` in `timeZone` (an IANA name), or `—` for none. */
export const formatTime = (iso: string | null | undefined, timeZone: string): string => {
  if (iso === null || iso === undefined) return "—"
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23"
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value])
  )
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`
}

/**
 * A bucket's label on the chart: `14:00` for hours (`30 Nov 14:00` when the
 * range spans several days), `30 Nov` for days.
 */
export const formatBucket = (
  iso: string,
  bucket: "hour" | "day",
  timeZone: string,
  severalDays: boolean
): string =>
  new Intl.DateTimeFormat("en-GB", {
    timeZone,
    ...(bucket === "hour"
      ? {
          ...(severalDays ? { day: "2-digit", month: "short" } : {}),
          hour: "2-digit",
          minute: "2-digit",
          hourCycle: "h23"
        }
      : { day: "2-digit", month: "short" })
  } as Intl.DateTimeFormatOptions).format(new Date(iso))

/** `$2.10` from the exact decimal text `"2.10"`; `—` for none. */
export const formatUsd = (usd: string | null | undefined): string =>
  usd === null || usd === undefined ? "—" : usd.startsWith("-") ? `-$${usd.slice(1)}` : `$${usd}`

/** `1,234,567` from the decimal text `"1234567"` (exact: through BigInt); `—` for none. */
export const formatPoints = (points: string | null | undefined): string => {
  if (points === null || points === undefined) return "—"
  try {
    return BigInt(points).toLocaleString("en-US")
  } catch {
    return points
  }
}

export const formatBoolean = (value: boolean | null | undefined): string =>
  value === null || value === undefined ? "—" : value ? "yes" : "no"

/** Any stored value as indented JSON text (rendered as text, never as markup). */
export const formatJson = (value: unknown): string =>
  value === undefined ? "—" : JSON.stringify(value, null, 2)

/** The status as a person reads it. */
export const STATUS_LABELS: Readonly<Record<string, string>> = {
  pending: "pending",
  processing: "processing",
  credited: "credited",
  recorded: "recorded (no points)",
  unattributed: "unattributed (no user)",
  held: "held for review",
  rejected: "rejected",
  dead: "dead (processing failed)",
  reversed: "reversed",
  repaired: "repaired"
}
