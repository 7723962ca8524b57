// Loaded into a receiver process by the fuzz suite only (`node --expose-gc
// --import <this file>`), never by the receiver itself: on SIGUSR2 it runs
// two full garbage collections and writes one line to standard error,
//   proof-heap seq=<n> used=<bytes> rss=<bytes> external=<bytes>
// so that the suite reads the heap left after a full collection without an
// inspector or any code in the receiver.
import { getHeapStatistics } from "node:v8"

let seq = 0
process.on("SIGUSR2", () => {
  seq++
  globalThis.gc?.()
  globalThis.gc?.()
  const heap = getHeapStatistics()
  const memory = process.memoryUsage()
  process.stderr.write(
    `proof-heap seq=${seq} used=${heap.used_heap_size} rss=${memory.rss} external=${memory.external}\n`
  )
})
