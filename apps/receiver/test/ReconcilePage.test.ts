// The console's reconciliation panel in a real Chromium against a real
// receiver (PostgreSQL when TEST_DATABASE_URL or CI is set, else PGlite):
// an operator uploads MomentScience's export, reads the lost conversions,
// re-ingests them with the button, and the worker credits them. Waits are
// Playwright's auto-waiting locators, never fixed sleeps.
import { fileURLToPath } from "node:url"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { launchChromium, skipBrowserTests, watchedPage } from "./support/browser.ts"
import { testDatabases } from "./support/databases.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

const EXPORT = fileURLToPath(new URL("./fixtures/exports/display-new-york.csv", import.meta.url))

const step = <A>(f: () => Promise<A>) => Effect.promise(f)

const database = testDatabases[testDatabases.length - 1]!

layer(testReceiver(database), { timeout: 180_000, excludeTestServices: true })(
  `reconciliation panel in Chromium (${database.name})`,
  (it) => {
    it.effect.skipIf(skipBrowserTests)(
      "an operator uploads an export, sees the lost conversions and re-ingests them",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // MomentScience delivered the first and the last conversion of the export.
          for (const [offer, payout, time, user] of [
            ["1511", "2.10", "2023-09-20T15:27:40.120Z", "3410444"],
            ["1513", "1234.50", "2023-09-20T15:31:10.900Z", "3410447"]
          ] as const) {
            const response = yield* step(() =>
              fetch(receiver.postbackUrl(), {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({
                  offer_id: offer,
                  advertiser_name: "MomentScience",
                  payout,
                  timestamp: time,
                  is_loyaltyboost: "1",
                  payload: { user_id: user }
                })
              })
            )
            expect(response.status).toBe(200)
          }

          const browser = yield* launchChromium
          const context = yield* Effect.acquireRelease(
            step(() => browser.newContext({ viewport: { width: 1360, height: 900 } })),
            (context) => Effect.promise(() => context.close())
          )
          const { page, watch } = yield* step(() => watchedPage(context))
          page.setDefaultTimeout(20_000)

          yield* step(async () => {
            await page.goto(receiver.baseUrl)
            await page.getByLabel("Admin token").fill(TEST_ADMIN_TOKEN)
            await page.getByRole("button", { name: "Sign in" }).click()
            await page.getByRole("button", { name: "Reconciliation" }).click()
            await page.getByLabel("Export (CSV)").setInputFiles(EXPORT)
            await page.getByLabel("Time zone of its timestamps").fill("America/New_York")
            await page.getByRole("button", { name: "Reconcile", exact: true }).click()
            await page.getByRole("heading", { name: /Report \d+: display-new-york\.csv/ }).waitFor()
          })
          const totals = page.getByRole("table", { name: "Totals" })
          const lost = totals.locator('tr[data-category="lost"]')
          expect((yield* step(() => lost.locator("td").allTextContents())).slice(1)).toEqual([
            "2",
            "$32.10"
          ])
          const rows = page.getByRole("table", { name: "Rows that need a person" })
          expect(yield* step(() => rows.locator("tbody tr").count())).toBe(2)

          yield* step(async () => {
            await page.getByRole("button", { name: "Re-ingest lost (2)" }).click()
            await page.getByText("Re-ingested 2 lost conversions (0 already stored).").waitFor()
          })
          // The message comes first, the report read again after it: wait
          // for the totals to change (a locator's text is read once).
          const recovered = totals.locator('tr[data-category="recovered"] td')
          const after = yield* eventually(async () => {
            const row = (await recovered.allTextContents()).slice(1)
            return row[0] === "2" ? row : undefined
          })
          expect(after).toEqual(["2", "$32.10"])
          expect((yield* step(() => lost.locator("td").allTextContents())).slice(1)).toEqual([
            "0",
            "$0"
          ])

          // The worker credits the recovered conversions: 30.00 and 2.10 USD x 10.
          const balances = yield* eventually(async () => {
            const found = await receiver.sql.query<{ user_id: string; balance: string }>(
              "SELECT user_id, balance::text AS balance FROM accounts WHERE user_id IN ('3410445', '3410446') ORDER BY user_id"
            )
            return found.length === 2 ? found : undefined
          })
          expect(balances).toEqual([
            { user_id: "3410445", balance: "300" },
            { user_id: "3410446", balance: "21" }
          ])
          // A screenshot of the panel for people (test-results/ is git-ignored).
          yield* step(() =>
            page.screenshot({
              path: fileURLToPath(new URL("../test-results/reconcile.png", import.meta.url)),
              fullPage: true
            })
          )
          expect(watch.cspViolations).toEqual([])
          expect(watch.cspConsole).toEqual([])
          expect(watch.pageErrors).toEqual([])
          expect(watch.dialogs).toEqual([])
        }).pipe(Effect.scoped)
    )
  }
)
