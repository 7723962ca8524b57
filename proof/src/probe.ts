import { sendOnce } from "@org/postback-sender"
import { makePlan } from "./Plan.ts"
import { Cluster, createDatabase } from "./Postgres.ts"
import { Receiver } from "./Receiver.ts"

const cluster = await Cluster.create()
const db = await createDatabase(cluster.url)
const r = await Receiver.make({
  env: { DATABASE_URL: db.url, DATABASE_TIMEOUT_MS: "1000", LOG_LEVEL: "Info" }
})
await r.start()
const plan = makePlan("x", 400, { seed: 1 })
const send = (i: number) =>
  sendOnce(plan[i]!.postback, { method: "POST", url: r.postbackUrl }).then(
    (x) => x.status,
    (e) => String(e)
  )
console.log("before", await Promise.all([0, 1, 2, 3, 4].map(send)))
const stopping = cluster.stop("fast")
const during = await Promise.all(Array.from({ length: 100 }, (_, i) => send(10 + i)))
await stopping
console.log("during", during.join(","))
const after = await Promise.all(Array.from({ length: 20 }, (_, i) => send(200 + i)))
console.log("after", after.join(","))
console.log("running after stop:", r.running)
console.log(r.output().slice(-4000))
await r.kill()
await cluster.remove()
