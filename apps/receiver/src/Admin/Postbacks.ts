import { Effect, Layer, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import {
  DeliveryEntry,
  LedgerEntry,
  NotFound,
  PostbackAction,
  PostbackDetail,
  ReceiverApi,
  StoredPostback
} from "../Api.ts"
import { actorFromOptionalBody, OperatorActions } from "./Actions.ts"
import { AdminRepository, type PostbackRow } from "./Repository.ts"

const storedFields = (row: PostbackRow) => ({
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

const toStored = (row: PostbackRow): StoredPostback => new StoredPostback(storedFields(row))

const notFound = (id: number) => new NotFound({ message: `no postback ${id}` })

/**
 * `GET /api/postbacks/:id` (the stored row with its points, deliveries,
 * audit trail and ledger entries) and `POST /api/postbacks/:id/replay`.
 */
export const PostbacksLive = HttpApiBuilder.group(ReceiverApi, "postbacks", (handlers) =>
  Effect.gen(function* () {
    const repository = yield* AdminRepository
    const actions = yield* OperatorActions
    return handlers
      .handle(
        "getPostback",
        Effect.fn("Postbacks.getPostback")(function* ({ params }) {
          const row = yield* repository.postback(params.id)
          if (Option.isNone(row)) return yield* notFound(params.id)
          const extras = yield* repository.postbackExtras(params.id)
          return new PostbackDetail({
            ...storedFields(row.value),
            points: extras.points,
            test: row.value.test,
            lastHttpStatus: row.value.lastHttpStatus,
            deliveries: extras.deliveries.map((d) => new DeliveryEntry(d)),
            actions: extras.actions.map((a) => new PostbackAction(a)),
            transactions: extras.transactions.map((t) => new LedgerEntry(t))
          })
        })
      )
      .handle(
        "replayPostback",
        Effect.fn("Postbacks.replayPostback")(function* ({ params, request }) {
          // With its audit row: see OperatorActions.replay.
          const actor = yield* actorFromOptionalBody(request)
          const replayed = yield* actions.replay(params.id, actor)
          return toStored(replayed)
        })
      )
  })
).pipe(Layer.provide(AdminRepository.layer))
