import type { SuiteResult } from "./Report.ts"

/** How a suite is run: `quick` for the short versions CI runs; `seed` for its random choices. */
export interface SuiteOptions {
  readonly quick: boolean
  readonly seed: number
}

/** A suite: runs its variants, prints each table as it finishes, and returns the results. */
export type Suite = (options: SuiteOptions) => Promise<Array<SuiteResult>>
