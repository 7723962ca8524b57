// The operator's actions over HTTP, on PostgreSQL and PGlite, with the
// worker running: each action run twice at once makes one change and one
// audit row (the other answer is a 409 naming the status), and the ledger
// stays whole (sum of entries = balance, one credit and at most one
// reversal per postback).
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { docsPostback } from "./support/postbacks.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Json) }
  })

/** `POST /api/...` with a JSON body, as the console sends it. */
const action = (
  receiver: TestReceiver["Service"],
  path: string,
  body: unknown = {},
  headers: Record<string, string> = {}
) =>
  call(`${receiver.baseUrl}/api${path}`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json", ...headers },
    body: JSON.stringify(body)
  })

/** The same action twice at once. */
const twice = (
  receiver: TestReceiver["Service"],
  path: string,
  body: unknown = {},
  headers: Record<string, string> = {}
) =>
  Effect.all([action(receiver, path, body, headers), action(receiver, path, body, headers)], {
    concurrency: 2
  })

const ingest = (receiver: TestReceiver["Service"], fields: Record<string, unknown>) =>
  call(receiver.postbackUrl(), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(docsPostback(fields))
  })

const rows = <Row>(receiver: TestReceiver["Service"], text: string, params: Array<unknown> = []) =>
  Effect.promise(() => receiver.sql.query<Row>(text, params))

/** Waits until postback `id` has `status`. */
const reaches = (receiver: TestReceiver["Service"], id: number, status: string) =>
  eventually(async () => {
    const [row] = await receiver.sql.query<{ status: string }>(
      "SELECT status FROM postbacks WHERE id = $1",
      [id]
    )
    return row?.status === status ? row : undefined
  })

/** One 200 and one 409 (in either order); the 409 names the status found. */
const oneWins = (answers: ReadonlyArray<{ status: number; body: Json }>) => {
  const statuses = answers.map((a) => a.status).sort()
  expect(statuses).toEqual([200, 409])
  const refused = answers.find((a) => a.status === 409)!
  expect(refused.body.error).toBe("conflict")
  expect(refused.body.message).toMatch(/^postback \d+ is [a-z]+; only /)
  return answers.find((a) => a.status === 200)!.body
}

const auditOf = (receiver: TestReceiver["Service"], postbackId: number) =>
  rows<{ action: string; operator: string; reason: string | null; details: Json }>(
    receiver,
    "SELECT action, operator, reason, details FROM operator_actions WHERE postback_id = $1 ORDER BY id",
    [postbackId]
  )

/** The ledger's invariants, over the whole database. */
const ledgerIsWhole = (receiver: TestReceiver["Service"]) =>
  Effect.gen(function* () {
    const off = yield* rows<{ user_id: string }>(
      receiver,
      `SELECT a.user_id FROM accounts a
       LEFT JOIN (SELECT user_id, sum(points) AS total FROM reward_transactions GROUP BY user_id) t
         ON t.user_id = a.user_id
       WHERE a.balance <> coalesce(t.total, 0)`
    )
    expect(off).toEqual([])
    const repeated = yield* rows<{ postback_id: string }>(
      receiver,
      "SELECT postback_id FROM reward_transactions GROUP BY postback_id, kind HAVING count(*) > 1"
    )
    expect(repeated).toEqual([])
    const unlinked = yield* rows<{ id: string }>(
      receiver,
      `SELECT r.id FROM reward_transactions r
       LEFT JOIN reward_transactions c ON c.id = r.reverses_id AND c.kind = 'credit'
         AND c.postback_id = r.postback_id AND c.points = -r.points
       WHERE r.kind = 'reversal' AND c.id IS NULL`
    )
    expect(unlinked).toEqual([])
  })

const balanceOf = (receiver: TestReceiver["Service"], userId: string) =>
  rows<{ balance: string }>(
    receiver,
    "SELECT balance::text AS balance FROM accounts WHERE user_id = $1",
    [userId]
  ).pipe(Effect.map((r) => r[0]?.balance))

for (const database of testDatabases) {
  layer(testReceiver(database, { PAYOUT_HOLD_ABOVE: "100" }), {
    timeout: 120_000,
    excludeTestServices: true
  })(`operator actions on ${database.name}`, (it) => {
    it.effect("approve: held → pending → credited once; the second approval is a 409", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const user = `approve-${database.name}`
        const held = yield* ingest(receiver, { payout: "500.00", payload: { user_id: user } })
        expect(held.body).toMatchObject({ status: "held" })
        const id: number = held.body.id

        const answers = yield* twice(receiver, `/postbacks/${id}/approve`, {
          operator: "alice",
          reason: "checked with the advertiser"
        })
        const won = oneWins(answers)
        expect(won).toMatchObject({
          postbackId: id,
          status: "pending",
          action: {
            postbackId: id,
            action: "approve",
            operator: "alice",
            reason: "checked with the advertiser",
            details: { from: "held", to: "pending" }
          }
        })
        yield* reaches(receiver, id, "credited")
        expect(yield* balanceOf(receiver, user)).toBe("5000")
        expect(yield* auditOf(receiver, id)).toEqual([
          {
            action: "approve",
            operator: "alice",
            reason: "checked with the advertiser",
            details: { from: "held", to: "pending" }
          }
        ])
        // Approving a credited postback changes nothing.
        const late = yield* action(receiver, `/postbacks/${id}/approve`)
        expect(late.status).toBe(409)
        expect(late.body.message).toContain("is credited; only held postbacks can be approved")
        yield* ledgerIsWhole(receiver)
      })
    )

    it.effect(
      "reject: held → rejected with the reason; never credited; the reason is required",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `reject-${database.name}`
          const held = yield* ingest(receiver, { payout: "700.00", payload: { user_id: user } })
          const id: number = held.body.id

          const noReason = yield* action(receiver, `/postbacks/${id}/reject`, {})
          expect(noReason.status).toBe(400)
          expect(noReason.body.error).toBe("invalid_request")
          expect(noReason.body.issues.map((i: Json) => i.path)).toEqual(["reason"])
          const blank = yield* action(receiver, `/postbacks/${id}/reject`, { reason: "  " })
          expect(blank.status).toBe(400)
          expect(blank.body.issues).toEqual([{ path: "reason", message: "must not be blank" }])

          const won = oneWins(
            yield* twice(receiver, `/postbacks/${id}/reject`, { reason: "fraudulent click" })
          )
          expect(won).toMatchObject({ status: "rejected", action: { operator: "admin" } })
          const [row] = yield* rows<{ status: string; outcome: Json }>(
            receiver,
            "SELECT status, outcome FROM postbacks WHERE id = $1",
            [id]
          )
          expect(row).toEqual({
            status: "rejected",
            outcome: { reason: "rejected-by-operator", summary: "fraudulent click" }
          })
          expect((yield* auditOf(receiver, id)).map((a) => [a.action, a.reason])).toEqual([
            ["reject", "fraudulent click"]
          ])
          // A retry of the rejected postback by the sender stays rejected.
          const retry = yield* ingest(receiver, { payout: "700.00", payload: { user_id: user } })
          expect(retry.body).toMatchObject({ id, duplicate: true })
          expect(yield* balanceOf(receiver, user)).toBeUndefined()
          // An operator-rejected postback has no stored request to repair.
          const repair = yield* action(receiver, `/postbacks/${id}/repair`, {
            fields: { payout: "1.00" }
          })
          expect(repair.status).toBe(409)
          expect(repair.body.message).toContain("no stored request")
        })
    )

    it.effect("attribute: unattributed → pending with the user → credited once", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const user = `attributed-${database.name}`
        const stored = yield* ingest(receiver, { offer_id: "no-user", payout: "3.00" })
        const id: number = stored.body.id
        yield* reaches(receiver, id, "unattributed")

        for (const [userId, message] of [
          ["", "must not be blank"],
          ["a\u0000b", "cannot contain NUL"],
          ["x".repeat(2001), "must be at most 2000 bytes of UTF-8 (the ledger indexes user ids)"]
        ] as const) {
          const bad = yield* action(receiver, `/postbacks/${id}/attribute`, { userId })
          expect(bad.status).toBe(400)
          expect(bad.body.issues).toEqual([{ path: "userId", message }])
        }
        const missing = yield* action(receiver, `/postbacks/${id}/attribute`, {})
        expect(missing.status).toBe(400)
        expect(missing.body.issues.map((i: Json) => i.path)).toEqual(["userId"])

        const won = oneWins(
          yield* twice(receiver, `/postbacks/${id}/attribute`, {
            userId: ` ${user} `,
            operator: "bob"
          })
        )
        expect(won.action.details).toEqual({ from: "unattributed", to: "pending", userId: user })
        yield* reaches(receiver, id, "credited")
        expect(yield* balanceOf(receiver, user)).toBe("30")
        expect((yield* auditOf(receiver, id)).map((a) => a.action)).toEqual(["attribute"])
        yield* ledgerIsWhole(receiver)
      })
    )

    it.effect("reverse: credited → reversed, a compensating entry, the balance lowered once", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const user = `reverse-${database.name}`
        const first = yield* ingest(receiver, { offer_id: "r-1", payload: { user_id: user } })
        const second = yield* ingest(receiver, {
          offer_id: "r-2",
          payout: "4.00",
          payload: { user_id: user }
        })
        const id: number = first.body.id
        yield* reaches(receiver, id, "credited")
        yield* reaches(receiver, second.body.id, "credited")
        expect(yield* balanceOf(receiver, user)).toBe("61")

        const noReason = yield* action(receiver, `/postbacks/${id}/reverse`, {})
        expect(noReason.status).toBe(400)
        expect(noReason.body.issues.map((i: Json) => i.path)).toEqual(["reason"])

        const won = oneWins(
          yield* twice(receiver, `/postbacks/${id}/reverse`, { reason: "chargeback" })
        )
        expect(won).toMatchObject({
          status: "reversed",
          action: {
            action: "reverse",
            reason: "chargeback",
            details: {
              from: "credited",
              to: "reversed",
              userId: user,
              points: "-21",
              balance: "40"
            }
          }
        })
        expect(yield* balanceOf(receiver, user)).toBe("40")
        const ledger = yield* rows<{
          kind: string
          points: string
          payout: string
          linked: boolean
        }>(
          receiver,
          `SELECT kind, points::text AS points, payout::text AS payout,
                  reverses_id IS NOT NULL AS linked
           FROM reward_transactions WHERE postback_id = $1 ORDER BY id`,
          [id]
        )
        expect(ledger).toEqual([
          { kind: "credit", points: "21", payout: "2.10", linked: false },
          { kind: "reversal", points: "-21", payout: "-2.10", linked: true }
        ])
        // The user's transactions show the reversal (negative points are exact strings too).
        const shown = yield* call(`${receiver.baseUrl}/api/users/${user}`, { headers: admin })
        expect(shown.status).toBe(200)
        expect(shown.body.balance).toBe("40")
        expect(shown.body.transactions.map((t: Json) => t.points)).toContain("-21")
        // Reversing again, or reversing what was never credited, changes nothing.
        const again = yield* action(receiver, `/postbacks/${id}/reverse`, { reason: "again" })
        expect(again.status).toBe(409)
        expect(again.body.message).toContain("is reversed; only credited postbacks can be reversed")
        const unknown = yield* action(receiver, "/postbacks/999999999/reverse", { reason: "x" })
        expect(unknown.status).toBe(404)
        expect(unknown.body.error).toBe("not_found")
        expect((yield* auditOf(receiver, id)).map((a) => a.action)).toEqual(["reverse"])
        yield* ledgerIsWhole(receiver)
      })
    )

    it.effect("replay: a dead postback back to the worker once, with its audit row", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const user = `replay-${database.name}`
        const stored = yield* ingest(receiver, {
          offer_id: `replay-${database.name}`,
          payload: { user_id: user }
        })
        const id: number = stored.body.id
        yield* reaches(receiver, id, "credited")
        // Arrange what the worker leaves after its last failed attempt: dead,
        // with nothing in the ledger (the credit and the status are one
        // transaction, so a dead postback never has one).
        yield* rows(
          receiver,
          `WITH gone AS (DELETE FROM reward_transactions WHERE postback_id = $1 RETURNING user_id, points)
           UPDATE accounts a SET balance = a.balance - gone.points FROM gone WHERE a.user_id = gone.user_id`,
          [id]
        )
        yield* rows(
          receiver,
          "UPDATE postbacks SET status = 'dead', last_error = 'gone' WHERE id = $1",
          [id]
        )
        const replay = (body: string) =>
          call(`${receiver.baseUrl}/api/postbacks/${id}/replay`, {
            method: "POST",
            headers: { ...admin, "content-type": "application/json" },
            body
          })
        const badBody = yield* replay(JSON.stringify({ operator: 7 }))
        expect(badBody.status).toBe(400)
        expect(badBody.body.issues.map((i: Json) => i.path)).toEqual(["operator"])
        const notJson = yield* replay("{")
        expect(notJson.status).toBe(400)
        expect(notJson.body.issues.map((i: Json) => i.path)).toEqual(["body"])
        const body = JSON.stringify({ operator: "erin", reason: "the database is back" })
        const answers = yield* Effect.all([replay(body), replay(body)], { concurrency: 2 })
        expect(answers.map((a) => a.status).sort()).toEqual([200, 409])
        const won = answers.find((a) => a.status === 200)!
        expect(won.body).toMatchObject({ id, status: "pending", attempts: 0, lastError: null })
        const refused = answers.find((a) => a.status === 409)!
        expect(refused.body.error).toBe("not_replayable")
        expect(refused.body.message).toMatch(
          new RegExp(`^postback ${id} is [a-z]+; only dead and held postbacks can be replayed$`)
        )
        yield* reaches(receiver, id, "credited")
        expect(yield* balanceOf(receiver, user)).toBe("21")
        expect(yield* auditOf(receiver, id)).toEqual([
          {
            action: "replay",
            operator: "erin",
            reason: "the database is back",
            details: { from: "dead", to: "pending" }
          }
        ])
        yield* ledgerIsWhole(receiver)
      })
    )

    it.effect("replay by filter: dry run counts, then each dead match goes back once", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const offer = `bulk-offer-${database.name}`
        const ids: Array<number> = []
        for (let i = 0; i < 3; i++) {
          const stored = yield* ingest(receiver, {
            offer_id: offer,
            payout: `1.0${i}`,
            is_loyaltyboost: "0"
          })
          ids.push(stored.body.id)
        }
        for (const id of ids) yield* reaches(receiver, id, "recorded")
        // Arrange what the worker leaves after its last failed attempt: two
        // dead rows, with their last error.
        yield* rows(
          receiver,
          "UPDATE postbacks SET status = 'dead', last_error = 'database refused' WHERE id = ANY($1::bigint[])",
          [ids.slice(0, 2)]
        )
        const filter = { offerId: offer, status: "dead,recorded" }
        const dry = yield* action(receiver, "/postbacks/replay", { filter, dryRun: true })
        expect(dry).toEqual({ status: 200, body: { matched: 2, replayed: 0 } })
        const still = yield* rows<{ status: string }>(
          receiver,
          "SELECT status FROM postbacks WHERE id = ANY($1::bigint[]) ORDER BY id",
          [ids]
        )
        expect(still.map((r) => r.status)).toEqual(["dead", "dead", "recorded"])

        const bad = yield* action(receiver, "/postbacks/replay", {
          filter: { status: "gone" },
          dryRun: false
        })
        expect(bad.status).toBe(400)
        expect(bad.body.issues.map((i: Json) => i.path)).toEqual(["filter.status"])

        const [a, b] = yield* twice(receiver, "/postbacks/replay", {
          filter,
          dryRun: false,
          operator: "carol"
        })
        expect([a.status, b.status]).toEqual([200, 200])
        expect(a.body.replayed + b.body.replayed).toBe(2)
        for (const id of ids) yield* reaches(receiver, id, "recorded")
        for (const id of ids.slice(0, 2)) {
          const audit = yield* auditOf(receiver, id)
          expect(audit).toHaveLength(1)
          expect(audit[0]).toMatchObject({
            action: "replay",
            operator: "carol",
            details: { from: "dead", to: "pending", byFilter: filter }
          })
        }
        expect(yield* auditOf(receiver, ids[2]!)).toEqual([])
        yield* ledgerIsWhole(receiver)
      })
    )

    it.effect(
      "repair: a rejected request corrected, re-ingested once, linked; a bad correction is a 400",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `repair-${database.name}`
          const rejected = yield* ingest(receiver, {
            offer_id: `broken-${database.name}`,
            payout: "two dollars",
            payload: { user_id: user }
          })
          expect(rejected.status).toBe(400)
          const id: number = rejected.body.id

          const stillBad = yield* action(receiver, `/postbacks/${id}/repair`, {
            fields: { payout: "-5" }
          })
          expect(stillBad.status).toBe(400)
          expect(stillBad.body.error).toBe("invalid_request")
          expect(stillBad.body.issues.map((i: Json) => i.path)).toEqual(["fields.payout"])
          const empty = yield* action(receiver, `/postbacks/${id}/repair`, { fields: {} })
          expect(empty.status).toBe(400)
          expect(empty.body.issues.map((i: Json) => i.path)).toEqual(["fields"])
          const wrongType = yield* action(receiver, `/postbacks/${id}/repair`, {
            fields: { payout: 5 }
          })
          expect(wrongType.status).toBe(400)
          expect(wrongType.body.issues.map((i: Json) => i.path)).toEqual(["fields.payout"])
          // Nothing was written by the refused corrections.
          const [before] = yield* rows<{ status: string; n: string }>(
            receiver,
            "SELECT status, (SELECT count(*) FROM operator_actions WHERE postback_id = $1)::text AS n FROM postbacks WHERE id = $1",
            [id]
          )
          expect(before).toEqual({ status: "rejected", n: "0" })

          const won = oneWins(
            yield* twice(receiver, `/postbacks/${id}/repair`, {
              fields: { payout: "2.50" },
              reason: "the advertiser sent words"
            })
          )
          expect(won).toMatchObject({ repairedId: id, duplicate: false, status: "pending" })
          const repairedAs: number = won.id
          expect(repairedAs).not.toBe(id)
          const [original] = yield* rows<{ status: string; repaired_as_id: string }>(
            receiver,
            "SELECT status, repaired_as_id::text AS repaired_as_id FROM postbacks WHERE id = $1",
            [id]
          )
          expect(original).toEqual({ status: "repaired", repaired_as_id: String(repairedAs) })
          yield* reaches(receiver, repairedAs, "credited")
          expect(yield* balanceOf(receiver, user)).toBe("25")
          const [fresh] = yield* rows<{ offer_id: string; payout: string; received_at: Date }>(
            receiver,
            "SELECT offer_id, payout::text AS payout, received_at FROM postbacks WHERE id = $1",
            [repairedAs]
          )
          expect(fresh).toMatchObject({ offer_id: `broken-${database.name}`, payout: "2.50" })
          expect((yield* auditOf(receiver, id))[0]).toMatchObject({
            action: "repair",
            details: { repairedAsId: repairedAs, duplicate: false, fields: { payout: "2.50" } }
          })
          // The sender's retry of the original (still broken) is still refused,
          // and the corrected postback sent again is a duplicate of the repair.
          const resent = yield* ingest(receiver, {
            offer_id: `broken-${database.name}`,
            payout: "2.50",
            payload: { user_id: user }
          })
          expect(resent.body).toMatchObject({ id: repairedAs, duplicate: true })
          yield* ledgerIsWhole(receiver)
        })
    )

    it.effect(
      "repair of a GET and of a body that is not JSON: the corrections read by the ingest core",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `repair-get-${database.name}`
          // A GET without a payout: rejected, its query kept (without the secret).
          const get = yield* call(
            receiver.postbackUrl(
              `offer_id=g-${database.name}&advertiser_name=Acme&timestamp=2024-05-01T00:00:00Z&is_loyaltyboost=1&user_id=${user}`
            )
          )
          expect(get.status).toBe(400)
          const fixed = yield* action(receiver, `/postbacks/${get.body.id}/repair`, {
            fields: { payout: "1.00", payload: { session_id: "s-1" } }
          })
          expect(fixed.status).toBe(200)
          yield* reaches(receiver, fixed.body.id, "credited")
          const [row] = yield* rows<{ source: string; payload: Json; user_id: string }>(
            receiver,
            "SELECT source, payload, user_id FROM postbacks WHERE id = $1",
            [fixed.body.id]
          )
          expect(row).toEqual({
            source: "get",
            payload: { user_id: user, session_id: "s-1" },
            user_id: user
          })
          expect(yield* balanceOf(receiver, user)).toBe("10")

          // A body that is not JSON: the corrections become the body.
          const garbled = yield* call(receiver.postbackUrl(), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{offer_id: 1511"
          })
          expect(garbled.status).toBe(400)
          const partial = yield* action(receiver, `/postbacks/${garbled.body.id}/repair`, {
            fields: { offer_id: "1511" }
          })
          expect(partial.status).toBe(400)
          expect(partial.body.issues.map((i: Json) => i.path)).toContain("fields.payout")
          const whole = yield* action(receiver, `/postbacks/${garbled.body.id}/repair`, {
            fields: {
              offer_id: `garbled-${database.name}`,
              payout: "0.50",
              is_loyaltyboost: "0"
            }
          })
          expect(whole.status).toBe(200)
          yield* reaches(receiver, whole.body.id, "recorded")
        })
    )

    it.effect("the actions are in the OpenAPI document", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const spec = yield* call(`${receiver.baseUrl}/api/openapi.json`)
        for (const path of [
          "/api/postbacks/{id}/approve",
          "/api/postbacks/{id}/reject",
          "/api/postbacks/{id}/attribute",
          "/api/postbacks/{id}/reverse",
          "/api/postbacks/{id}/repair",
          "/api/postbacks/replay",
          "/api/actions",
          "/api/test-postback"
        ]) {
          expect(Object.keys(spec.body.paths)).toContain(path)
        }
        expect(Object.keys(spec.body.paths["/api/postbacks/{id}/reverse"].post.responses)).toEqual(
          expect.arrayContaining(["200", "400", "401", "404", "409"])
        )
      })
    )

    it.effect(
      "an Idempotency-Key repeat answers the first outcome; the trail pages by cursor",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const held = yield* ingest(receiver, {
            offer_id: `idem-${database.name}`,
            payout: "900.00",
            payload: { user_id: `idem-${database.name}` }
          })
          const id: number = held.body.id
          const key = { "idempotency-key": `approve-${id}` }
          const [a, b] = yield* twice(receiver, `/postbacks/${id}/approve`, {}, key)
          expect([a.status, b.status]).toEqual([200, 200])
          expect(a.body.action).toEqual(b.body.action)
          const other = yield* action(receiver, `/postbacks/${id}/reject`, { reason: "x" }, key)
          expect(other.status).toBe(409)
          expect(other.body.message).toContain(`was used for approve of postback ${id}`)
          yield* reaches(receiver, id, "credited")
          const reversed = yield* action(receiver, `/postbacks/${id}/reverse`, { reason: "refund" })
          expect(reversed.status).toBe(200)

          const page1 = yield* call(`${receiver.baseUrl}/api/actions?postbackId=${id}&limit=1`, {
            headers: admin
          })
          expect(page1.status).toBe(200)
          expect(page1.body.items.map((i: Json) => i.action)).toEqual(["reverse"])
          expect(typeof page1.body.nextCursor).toBe("string")
          const page2 = yield* call(
            `${receiver.baseUrl}/api/actions?postbackId=${id}&limit=1&cursor=${page1.body.nextCursor}`,
            { headers: admin }
          )
          expect(page2.body.items.map((i: Json) => i.action)).toEqual(["approve"])
          expect(page2.body.nextCursor).toBeNull()
          const badCursor = yield* call(`${receiver.baseUrl}/api/actions?cursor=nope`, {
            headers: admin
          })
          expect(badCursor.status).toBe(400)
          expect(badCursor.body.issues.map((i: Json) => i.path)).toEqual(["cursor"])
          const noToken = yield* call(`${receiver.baseUrl}/api/actions`)
          expect(noToken.status).toBe(401)
          const detail = yield* call(`${receiver.baseUrl}/api/postbacks/${id}`, { headers: admin })
          expect(detail.body.actions.map((i: Json) => i.action)).toEqual(["reverse", "approve"])
          yield* ledgerIsWhole(receiver)
        })
    )
  })
}
