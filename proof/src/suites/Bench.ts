import type { SuiteResult } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

export const bench = async (_options: SuiteOptions): Promise<Array<SuiteResult>> => []
