// The console's Destinations tab in a real Chromium against a real receiver:
// a destination added through the API, a postback forwarded to a real
// consumer, the destination's health and its event's attempt on the page,
// then paused from the page. Waits are Playwright's auto-waiting locators.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { launchChromium, skipBrowserTests, watchedPage } from "./support/browser.ts"
import { testDatabases } from "./support/databases.ts"
import { startConsumer } from "./support/forwardConsumer.ts"
import { docsPostback } from "./support/postbacks.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

const step = <A>(f: () => Promise<A>) => Effect.promise(f)
const database = testDatabases[testDatabases.length - 1]!
const SECRET = `whsec_${Buffer.alloc(32, 12).toString("base64")}`

layer(testReceiver(database), { timeout: 180_000, excludeTestServices: true })(
  `destinations tab in Chromium (${database.name})`,
  (it) => {
    it.effect.skipIf(skipBrowserTests)(
      "lists a destination with its health and its event's attempt, and pauses it",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const consumer = yield* startConsumer()
          const headers = {
            authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
            "content-type": "application/json"
          }
          const added = yield* step(() =>
            fetch(`${receiver.baseUrl}/api/destinations`, {
              method: "POST",
              headers,
              body: JSON.stringify({
                url: consumer.url,
                secret: SECRET,
                events: ["postback.credited"]
              })
            }).then((r) => r.json() as Promise<{ id: number }>)
          )
          const status = yield* step(() =>
            fetch(receiver.postbackUrl(), {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(docsPostback({ payload: { user_id: "page-user" } }))
            }).then((r) => r.status)
          )
          expect(status).toBe(200)
          yield* consumer.receivedAtLeast(1)
          // Recorded once the consumer's answer is in.
          yield* eventually(async () => {
            const [row] = await receiver.sql.query<{ status: string }>(
              "SELECT status FROM forward_outbox WHERE destination_id = $1",
              [String(added.id)]
            )
            return row?.status === "delivered" ? row : undefined
          })

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
            await page.getByRole("button", { name: "Destinations" }).click()
          })
          const table = page.getByRole("table", { name: "Destinations" })
          const row = table.locator("tbody tr").first()
          yield* step(() => row.getByRole("button", { name: consumer.url }).waitFor())
          const cells = yield* step(() => row.locator("td").allTextContents())
          expect(cells.slice(1, 6)).toEqual(["active", "postback.credited", "0", "—", "0"])

          yield* step(() => row.getByRole("button", { name: consumer.url }).click())
          const events = page.getByRole("table", { name: "Forwarded events" })
          const event = events.locator("tbody tr").first()
          yield* step(() => event.waitFor())
          const eventCells = yield* step(() => event.locator("td").allTextContents())
          expect(eventCells[2]).toBe("postback.credited")
          expect(eventCells[3]).toBe("delivered")
          expect(eventCells[4]).toMatch(/· 200 · \d+ ms$/)

          yield* step(async () => {
            await row.getByRole("button", { name: "Pause" }).click()
            await row.getByRole("button", { name: "Resume" }).waitFor()
          })
          const [state] = yield* step(() =>
            receiver.sql.query<{ state: string }>(
              "SELECT state FROM forward_destinations WHERE id = $1",
              [String(added.id)]
            )
          )
          expect(state).toEqual({ state: "paused" })
          expect(watch.cspViolations).toEqual([])
          expect(watch.pageErrors).toEqual([])
          expect(watch.dialogs).toEqual([])
        }).pipe(Effect.scoped)
    )
  }
)
