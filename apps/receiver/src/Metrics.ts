import { Metric, MetricState, Option } from "effect"

const escapeLabel = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')

const labels = (
  tags: ReadonlyArray<{ key: string; value: string }>,
  extra?: [string, string]
): string => {
  const all = extra === undefined ? tags : [...tags, { key: extra[0], value: extra[1] }]
  return all.length === 0
    ? ""
    : `{${all.map((t) => `${t.key}="${escapeLabel(t.value)}"`).join(",")}}`
}

/**
 * Every Effect metric of this process in the Prometheus text format
 * (version 0.0.4): counters, gauges and histograms.
 */
export const prometheusText = (): string => {
  const byName = new Map<string, { help: string; type: string; lines: Array<string> }>()
  for (const pair of Metric.unsafeSnapshot()) {
    const { name, tags, description } = pair.metricKey
    const state = pair.metricState
    const help = Option.getOrElse(description, () => name)
    const add = (type: string, line: string) => {
      const entry = byName.get(name) ?? { help, type, lines: [] }
      entry.lines.push(line)
      byName.set(name, entry)
    }
    if (MetricState.isCounterState(state)) {
      add("counter", `${name}${labels(tags)} ${state.count}`)
    } else if (MetricState.isGaugeState(state)) {
      add("gauge", `${name}${labels(tags)} ${state.value}`)
    } else if (MetricState.isHistogramState(state)) {
      for (const [bound, count] of state.buckets) {
        add("histogram", `${name}_bucket${labels(tags, ["le", String(bound)])} ${count}`)
      }
      add("histogram", `${name}_bucket${labels(tags, ["le", "+Inf"])} ${state.count}`)
      add("histogram", `${name}_sum${labels(tags)} ${state.sum}`)
      add("histogram", `${name}_count${labels(tags)} ${state.count}`)
    }
  }
  let text = ""
  for (const [name, { help, type, lines }] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    text += `# HELP ${name} ${help.replaceAll("\n", " ")}\n# TYPE ${name} ${type}\n${lines.join("\n")}\n`
  }
  return text
}
