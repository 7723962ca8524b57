import { Context, Metric } from "effect"

const escapeLabel = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')

const escapeHelp = (value: string): string => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")

const labels = (
  attributes: Metric.Metric.AttributeSet | undefined,
  extra?: [string, string]
): string => {
  const all = Object.entries(attributes ?? {})
  if (extra !== undefined) all.push(extra)
  return all.length === 0
    ? ""
    : `{${all.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`
}

/** A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN`). */
const sample = (value: number | bigint): string =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
      ? "NaN"
      : value === Number.POSITIVE_INFINITY
        ? "+Inf"
        : value === Number.NEGATIVE_INFINITY
          ? "-Inf"
          : String(value)

/**
 * The metrics an operator reads: the receiver's own (`receiver_*`, each
 * documented in the README). Effect's runtime internals, should any be
 * registered, stay out.
 */
export const receiverMetrics = (
  snapshots: ReadonlyArray<Metric.Metric.Snapshot>
): ReadonlyArray<Metric.Metric.Snapshot> =>
  snapshots.filter((snapshot) => snapshot.id.startsWith("receiver_"))

/**
 * Metrics in the Prometheus text format (version 0.0.4), as `promtool check
 * metrics` accepts them: an incremental counter is a `counter`, a counter
 * that may go down (Effect's default) and a gauge are a `gauge`, a histogram
 * has cumulative buckets ending in exactly one `le="+Inf"`. Frequencies and
 * summaries are not rendered. By default every Effect metric of this process
 * (the default registry); pass `Metric.snapshot`'s result to render another.
 */
export const prometheusText = (
  snapshots: ReadonlyArray<Metric.Metric.Snapshot> = Metric.snapshotUnsafe(Context.empty())
): string => {
  const byName = new Map<string, { help: string; type: string; lines: Array<string> }>()
  for (const snapshot of snapshots) {
    const { id: name, attributes } = snapshot
    const help = snapshot.description ?? name
    const add = (type: string, line: string) => {
      const entry = byName.get(name) ?? { help, type, lines: [] }
      entry.lines.push(line)
      byName.set(name, entry)
    }
    switch (snapshot.type) {
      case "Counter":
        add(
          snapshot.state.incremental ? "counter" : "gauge",
          `${name}${labels(attributes)} ${sample(snapshot.state.count)}`
        )
        break
      case "Gauge":
        add("gauge", `${name}${labels(attributes)} ${sample(snapshot.state.value)}`)
        break
      case "Histogram": {
        const { state } = snapshot
        // Effect's boundaries end with Infinity; Prometheus's last bucket is `+Inf`, once.
        for (const [bound, count] of state.buckets) {
          if (!Number.isFinite(bound)) continue
          add("histogram", `${name}_bucket${labels(attributes, ["le", sample(bound)])} ${count}`)
        }
        add("histogram", `${name}_bucket${labels(attributes, ["le", "+Inf"])} ${state.count}`)
        add("histogram", `${name}_sum${labels(attributes)} ${sample(state.sum)}`)
        add("histogram", `${name}_count${labels(attributes)} ${state.count}`)
        break
      }
    }
  }
  let text = ""
  for (const [name, { help, type, lines }] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    text += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n${lines.join("\n")}\n`
  }
  return text
}
