/**
 * Moved to `src/WakeSignal.ts` (the ingest batcher signals it, the worker
 * waits on it). Kept only until `Ingest/Batcher.ts`, `Http.ts` and `App.ts`
 * import it from there; then delete this file.
 */
export { WakeSignal } from "../WakeSignal.ts"
