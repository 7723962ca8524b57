import { Context, Metric } from "effect"

const escapeLabel = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')

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

/**
 * Metrics in the Prometheus text format (version 0.0.4): counters, gauges and
 * histograms. By default every Effect metric of this process (the default
 * registry); pass `Metric.snapshot`'s result to render another registry.
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
        add("counter", `${name}${labels(attributes)} ${snapshot.state.count}`)
        break
      case "Gauge":
        add("gauge", `${name}${labels(attributes)} ${snapshot.state.value}`)
        break
      case "Histogram": {
        const { state } = snapshot
        for (const [bound, count] of state.buckets) {
          add("histogram", `${name}_bucket${labels(attributes, ["le", String(bound)])} ${count}`)
        }
        add("histogram", `${name}_bucket${labels(attributes, ["le", "+Inf"])} ${state.count}`)
        add("histogram", `${name}_sum${labels(attributes)} ${state.sum}`)
        add("histogram", `${name}_count${labels(attributes)} ${state.count}`)
        break
      }
    }
  }
  let text = ""
  for (const [name, { help, type, lines }] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    text += `# HELP ${name} ${help.replaceAll("\n", " ")}\n# TYPE ${name} ${type}\n${lines.join("\n")}\n`
  }
  return text
}
