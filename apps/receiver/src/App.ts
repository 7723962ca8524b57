import { Layer } from "effect"
import { AnnounceLive } from "./Announce.ts"
import type { ReceiverConfig } from "./Config.ts"
import { Database } from "./Db/Database.ts"
import {
  DestinationsFileLive,
  Dispatcher,
  DispatcherLoopLive,
  ForwardRetentionLive
} from "./Forward/Dispatcher.ts"
import { HttpAppLive, ServerLive } from "./Http.ts"
import { IngestEdge } from "./Ingest/Edge.ts"
import { GroupCommit } from "./Ingest/GroupCommit.ts"
import { IngestCore } from "./Ingest/Ingest.ts"
import { RetentionLive } from "./Retention.ts"
import { Secrets } from "./Secrets.ts"
import { Spool } from "./Spool/Spool.ts"
import { WakeSignal } from "./WakeSignal.ts"
import { RewardPolicyLive } from "./Worker/Rewards.ts"
import { Worker, WorkerLoopLive } from "./Worker/Worker.ts"

/**
 * The whole receiver on a given database: the HTTP server (ingest edge and
 * admin API), the worker loop, the delivery log's retention, and the
 * services under them, each built once.
 * Its services stay visible to whoever provides it (tests read the database
 * and the server's address through them).
 */
export const makeReceiver = <E>(database: Layer.Layer<Database, E, ReceiverConfig>) => {
  const base = Layer.mergeAll(WakeSignal.layer, Secrets.layer).pipe(Layer.provideMerge(database))
  const services = Layer.mergeAll(GroupCommit.layer, IngestCore.layer, RewardPolicyLive).pipe(
    Layer.provideMerge(base)
  )
  const edge = Layer.mergeAll(IngestEdge.layer, Worker.layer, Dispatcher.layer).pipe(
    Layer.provideMerge(Spool.layer),
    Layer.provideMerge(services)
  )
  const server = ServerLive.pipe(Layer.provideMerge(edge))
  return Layer.mergeAll(
    HttpAppLive,
    WorkerLoopLive,
    DestinationsFileLive,
    DispatcherLoopLive,
    ForwardRetentionLive,
    AnnounceLive,
    RetentionLive
  ).pipe(Layer.provideMerge(server))
}

/** The receiver on the database its configuration names (PostgreSQL or PGlite). */
export const ReceiverLive = makeReceiver(Database.layer)
