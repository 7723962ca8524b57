import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip
} from "chart.js"
import { useEffect, useRef } from "preact/hooks"
import type { Series } from "./api.ts"
import { formatBucket, STATUS_LABELS } from "./format.ts"

// Only what a stacked bar chart needs, so the bundle carries nothing else of Chart.js.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip)

/** A status's colour, from the `--status-<name>` custom property of styles.css (one source). */
const statusColour = (status: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(`--status-${status}`).trim() ||
  "#888888"

/**
 * Postbacks over time by status: stacked bars per hour or day (`GET
 * /api/postbacks/series`). Chart.js sizes its canvas through the CSSOM,
 * which the page's Content-Security-Policy allows (no inline style).
 */
export const SeriesChart = (props: { readonly series: Series }) => {
  const canvas = useRef<HTMLCanvasElement>(null)
  const { series } = props
  const statuses = [
    ...new Set(
      series.buckets.flatMap((bucket) =>
        Object.entries(bucket.byStatus)
          .filter(([, count]) => count > 0)
          .map(([status]) => status)
      )
    )
  ]
  const total = series.buckets.reduce(
    (sum, bucket) => sum + Object.values(bucket.byStatus).reduce((a, b) => a + b, 0),
    0
  )

  useEffect(() => {
    if (canvas.current === null) return
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: series.buckets.map((bucket) =>
          formatBucket(bucket.start, series.bucket, series.timeZone, series.buckets.length > 24)
        ),
        datasets: statuses.map((status) => ({
          label: STATUS_LABELS[status] ?? status,
          data: series.buckets.map((bucket) => bucket.byStatus[status] ?? 0),
          backgroundColor: statusColour(status)
        }))
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
        },
        plugins: { legend: { position: "bottom" } }
      }
    })
    return () => chart.destroy()
  }, [series])

  return (
    <figure class="chart">
      <div class="chart-box">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`Postbacks per ${series.bucket} by status (${series.timeZone}): ${total} in all`}
        />
      </div>
      <figcaption>
        Postbacks per {series.bucket} by status, {series.timeZone} time
        {total === 0 ? ": none in this range" : ""}
      </figcaption>
    </figure>
  )
}
