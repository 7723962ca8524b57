import { Effect, Layer, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { NotFound, NotReplayable, ReceiverApi, StoredPostback } from "../Api.ts"
import { WakeSignal } from "../WakeSignal.ts"
import { AdminRepository, type PostbackRow } from "./Repository.ts"

const toStored = (row: PostbackRow): StoredPostback =>
  new StoredPostback({
    id: row.id,
    status: row.status,
    source: row.source,
    offerId: row.offerId,
    advertiserName: row.advertiserName,
    payout: row.payout,
    occurredAt: row.occurredAt,
    isLoyaltyBoost: row.isLoyaltyBoost,
    payload: row.payload,
    userId: row.userId,
    receivedAt: row.receivedAt,
    deliveryCount: row.deliveryCount,
    attempts: row.attempts,
    processedAt: row.processedAt,
    outcome: row.outcome,
    lastError: row.lastError,
    flags: row.flags,
    request: row.request,
    errors: row.errors
  })

const notFound = (id: number) => new NotFound({ message: `no postback ${id}` })

/** `GET /api/postbacks/:id` and `POST /api/postbacks/:id/replay`. */
export const PostbacksLive = HttpApiBuilder.group(ReceiverApi, "postbacks", (handlers) =>
  Effect.gen(function* () {
    const repository = yield* AdminRepository
    const wake = yield* WakeSignal
    return handlers
      .handle(
        "getPostback",
        Effect.fn("Postbacks.getPostback")(function* ({ params }) {
          const row = yield* repository.postback(params.id)
          if (Option.isNone(row)) return yield* notFound(params.id)
          return toStored(row.value)
        })
      )
      .handle(
        "replayPostback",
        Effect.fn("Postbacks.replayPostback")(function* ({ params }) {
          const replayed = yield* repository.replay(params.id)
          if (Option.isSome(replayed)) {
            wake.signal()
            return toStored(replayed.value)
          }
          const current = yield* repository.postback(params.id)
          if (Option.isNone(current)) return yield* notFound(params.id)
          return yield* new NotReplayable({
            message: `postback ${params.id} is ${current.value.status}; only dead and held postbacks can be replayed`
          })
        })
      )
  })
).pipe(Layer.provide(AdminRepository.layer))
