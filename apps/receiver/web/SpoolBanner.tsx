import { useEffect, useState } from "preact/hooks"
import { type SpoolHealth, spoolHealth } from "./api.ts"

/** How often the banner asks `/healthz` (the history refreshes as often). */
const POLL_MS = 10_000

const plural = (n: number, one: string, many: string) =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`

/**
 * A banner while the receiver runs on its local spool (`SPOOL_DIR`): the
 * database is away and postbacks wait in the journal, or it is back and
 * they are being replayed, or replay stopped at a damaged entry. Nothing
 * when the spool is off or empty. It reads `/healthz`, which answers
 * without the database.
 */
export const SpoolBanner = () => {
  const [spool, setSpool] = useState<SpoolHealth | undefined>(undefined)
  useEffect(() => {
    let stopped = false
    const load = () =>
      spoolHealth().then(
        (health) => {
          if (!stopped) setSpool(health)
        },
        () => {}
      )
    void load()
    const timer = setInterval(() => void load(), POLL_MS)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [])
  if (spool === undefined || (spool.state === "idle" && spool.entries === 0)) return null
  const waiting = plural(spool.entries, "postback", "postbacks")
  const oldest =
    spool.oldestAgeSeconds >= 60
      ? `; the oldest arrived ${plural(Math.floor(spool.oldestAgeSeconds / 60), "minute", "minutes")} ago`
      : ""
  return (
    <div class={`spool-banner spool-${spool.state}`} role="status">
      {spool.state === "stopped" ? (
        <>
          <strong>Spool replay stopped:</strong> {waiting} wait in the local spool. {spool.problem}
        </>
      ) : spool.state === "replaying" ? (
        <>
          <strong>Replaying the local spool:</strong> the database is back; {waiting} still to store
          {oldest}.
        </>
      ) : (
        <>
          <strong>Running on the local spool:</strong> {waiting} waiting for the database
          {oldest}. Postbacks are acknowledged from the spool and stored once the database answers;
          the lists below show only what the database holds.
        </>
      )}
    </div>
  )
}
