import type { SuiteResult } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

export const fuzz = async (_options: SuiteOptions): Promise<Array<SuiteResult>> => []
