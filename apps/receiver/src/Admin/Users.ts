import { Effect, Layer, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { NotFound, ReceiverApi, RewardTransaction, UserLedger } from "../Api.ts"
import { AdminRepository } from "./Repository.ts"

/** `GET /api/users/:userId`: a balance and the latest reward transactions. */
export const UsersLive = HttpApiBuilder.group(ReceiverApi, "users", (handlers) =>
  Effect.gen(function* () {
    const repository = yield* AdminRepository
    return handlers.handle(
      "getUser",
      Effect.fn("Users.getUser")(function* ({ params, query }) {
        const account = yield* repository.account(params.userId)
        if (Option.isNone(account)) {
          return yield* new NotFound({
            message: `no account for user ${JSON.stringify(params.userId)}: nothing was credited to it`
          })
        }
        const transactions = yield* repository.transactions(params.userId, query.limit ?? 100)
        return new UserLedger({
          userId: account.value.userId,
          balance: account.value.balance,
          transactions: transactions.map((t) => new RewardTransaction(t))
        })
      })
    )
  })
).pipe(Layer.provide(AdminRepository.layer))
