// The proof suites: `tsx --conditions=@org/source src/main.ts [--quick]
// [--seed N] [suite ...]`. Runs the named suites (default: crash, outage,
// storm, fuzz, spool; `bench` only when named), one after the other, prints each
// summary table, and exits with 1 when any promise was broken.
import { formatResult, type SuiteResult } from "./Report.ts"
import type { Suite } from "./Suite.ts"
import { bench } from "./suites/Bench.ts"
import { crash } from "./suites/Crash.ts"
import { fuzz } from "./suites/Fuzz.ts"
import { outage } from "./suites/Outage.ts"
import { spool } from "./suites/Spool.ts"
import { storm } from "./suites/Storm.ts"

const suites: Record<string, Suite> = { crash, outage, storm, fuzz, bench, spool }
const DEFAULT = ["crash", "outage", "storm", "fuzz", "spool"]

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const seedAt = args.indexOf("--seed")
const seed =
  seedAt >= 0 ? Number(args[seedAt + 1]) : Number(process.env.PROOF_SEED ?? Date.now() % 1_000_000)
const names = args.filter((a, i) => !a.startsWith("--") && (seedAt < 0 || i !== seedAt + 1))
const unknown = names.filter((n) => suites[n] === undefined)
if (unknown.length > 0 || !Number.isSafeInteger(seed)) {
  console.error(
    unknown.length > 0
      ? `unknown suite ${unknown.join(", ")}: choose from ${Object.keys(suites).join(", ")}`
      : `--seed must be a whole number, got ${args[seedAt + 1]}`
  )
  process.exit(2)
}

const selected = names.length > 0 ? names : DEFAULT
console.log(
  `proof${quick ? " (quick)" : ""}: ${selected.join(", ")}; seed ${seed} (--seed ${seed} repeats the run)`
)
const results: Array<SuiteResult> = []
const started = Date.now()
for (const name of selected) {
  console.log(`\n# ${name}`)
  try {
    results.push(...(await suites[name]!({ quick, seed })))
  } catch (error) {
    const failed: SuiteResult = {
      name,
      figures: [],
      violations: [
        `suite failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
      ],
      elapsedMs: 0
    }
    console.log(formatResult(failed))
    results.push(failed)
  }
}
const failed = results.filter((r) => r.violations.length > 0)
console.log(
  `\n${results.length} runs in ${((Date.now() - started) / 1000).toFixed(0)} s: ${
    failed.length === 0
      ? "every promise kept"
      : `${failed.length} FAILED (${failed.map((r) => r.name).join("; ")})`
  }`
)
process.exit(failed.length === 0 ? 0 : 1)
