import { Effect, Layer, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import {
  InvalidRequest,
  NotFound,
  ReceiverApi,
  RewardTransaction,
  TransactionPage,
  UserLedger,
  UserPage,
  UserSummary
} from "../Api.ts"
import { decodeIdCursor, decodeTextCursor, encodeIdCursor, encodeTextCursor } from "./Cursor.ts"
import { AdminRepository } from "./Repository.ts"

/** Default page size of the users list and a user's transactions. */
const DEFAULT_LIMIT = 50

/**
 * `GET /api/users` (accounts by user id, searched by part of the id),
 * `GET /api/users/:userId` (a balance and the latest reward transactions)
 * and `GET /api/users/:userId/transactions` (the ledger, newest first);
 * both lists are keyset-paginated (`nextCursor`).
 */
export const UsersLive = HttpApiBuilder.group(ReceiverApi, "users", (handlers) =>
  Effect.gen(function* () {
    const repository = yield* AdminRepository
    return handlers
      .handle(
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
      .handle(
        "listUsers",
        Effect.fn("Users.listUsers")(function* ({ query }) {
          const after = query.cursor === undefined ? undefined : decodeTextCursor(query.cursor)
          if (after instanceof InvalidRequest) return yield* after
          const search =
            query.search === undefined || query.search === "" ? undefined : query.search
          const page = yield* repository.users({
            search,
            after,
            limit: query.limit ?? DEFAULT_LIMIT
          })
          return new UserPage({
            items: page.items.map((u) => new UserSummary(u)),
            nextCursor: page.next === undefined ? null : encodeTextCursor(page.next)
          })
        })
      )
      .handle(
        "listUserTransactions",
        Effect.fn("Users.listUserTransactions")(function* ({ params, query }) {
          const before = query.cursor === undefined ? undefined : decodeIdCursor(query.cursor)
          if (before instanceof InvalidRequest) return yield* before
          const page = yield* repository.transactionsPage({
            userId: params.userId,
            before,
            limit: query.limit ?? DEFAULT_LIMIT
          })
          return new TransactionPage({
            items: page.items.map((t) => new RewardTransaction(t)),
            nextCursor: page.next === undefined ? null : encodeIdCursor(page.next)
          })
        })
      )
  })
).pipe(Layer.provide(AdminRepository.layer))
