import { copyFileSync, mkdirSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Csv } from "effect/encoding"
import type { Page } from "playwright-core"
import { FILTER_PRESETS, POSTBACK_SOURCES } from "../src/Admin/Filter.ts"
import { POSTBACK_STATUSES } from "../src/Db/schema.ts"
import { PRESET_NAMES, SOURCES, STATUSES } from "../web/contract.ts"
import { launchChromium, skipBrowserTests, watchedPage } from "./support/browser.ts"
import { testDatabases } from "./support/databases.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// The console page in a real Chromium against a real receiver (PostgreSQL
// when TEST_DATABASE_URL or CI is set, else PGlite): what an operator does,
// through the page only. Waits are Playwright's auto-waiting locators
// (`waitFor`, `waitForFunction`), never fixed sleeps.

/** Screenshots of each run (git-ignored); `docs/console.png` is copied from here by hand. */
const ARTIFACTS = fileURLToPath(new URL("../test-results/", import.meta.url))
/** Set `CONSOLE_SCREENSHOT=1` to refresh the README's screenshot from this run. */
const README_SCREENSHOT = fileURLToPath(new URL("../docs/console.png", import.meta.url))

const SCRIPT_PAYLOAD = "<img src=x onerror=alert(1)>"

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

const api = (receiver: TestReceiver["Service"], path: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`${receiver.baseUrl}${path}`, {
      ...init,
      headers: { ...admin, ...init.headers }
    })
    return { status: response.status, body: (await response.json()) as Json }
  })

/** A postback as MomentScience POSTs it; answers the ingest route's status and body. */
const postback = (receiver: TestReceiver["Service"], fields: Record<string, unknown>) =>
  Effect.promise(async () => {
    const response = await fetch(receiver.postbackUrl(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        advertiser_name: "MomentScience",
        timestamp: "2026-11-20T15:27:40.802Z",
        is_loyaltyboost: "1",
        ...fields
      })
    })
    return { status: response.status, body: (await response.json()) as Json }
  })

const step = <A>(f: () => Promise<A>) => Effect.promise(f)

/** The history table's row for postback `id`. */
const row = (page: Page, id: number) => page.locator(`table.postbacks tbody tr[data-id="${id}"]`)

// Functions run in the page see the DOM; this program is typed for Node,
// so they name the little they use through this type (erased at build).
interface InPage {
  readonly document: {
    readonly querySelectorAll: (selector: string) => Iterable<{
      readonly dataset: Readonly<Record<string, string | undefined>>
    }>
    readonly activeElement: { readonly getAttribute: (name: string) => string | null } | null
    readonly documentElement: { readonly scrollWidth: number }
  }
  readonly innerWidth: number
  readonly sessionStorage: { readonly getItem: (key: string) => string | null }
}

/** The ids the history table shows, in order. */
const shownIds = (page: Page): Promise<Array<number>> =>
  page.evaluate(() =>
    [
      ...(globalThis as unknown as InPage).document.querySelectorAll("table.postbacks tbody tr")
    ].map((r) => Number(r.dataset.id))
  )

describe("the console page's copy of the API's names", () => {
  it("lists the receiver's statuses, sources and presets, in order", () => {
    expect(STATUSES).toEqual(POSTBACK_STATUSES)
    expect(SOURCES).toEqual(POSTBACK_SOURCES)
    expect(PRESET_NAMES).toEqual(FILTER_PRESETS)
  })
})

const database = testDatabases[testDatabases.length - 1]!

layer(testReceiver(database), { timeout: 180_000, excludeTestServices: true })(
  `console page in Chromium (${database.name})`,
  (it) => {
    it.effect.skipIf(skipBrowserTests)(
      "an operator signs in, filters, approves, repairs, attributes, reverses, downloads the CSV, sends a test postback, pages and signs out",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver

          // The postbacks: two credited, one held (payout above PAYOUT_HOLD_ABOVE),
          // one rejected (no payout), one whose payload carries markup.
          const alice = yield* postback(receiver, {
            offer_id: "1511",
            payout: "2.10",
            payload: { user_id: "alice" }
          })
          const bob = yield* postback(receiver, {
            offer_id: "2020",
            advertiser_name: "Acme",
            payout: "5.00",
            payload: { user_id: "bob" }
          })
          const held = yield* postback(receiver, {
            offer_id: "3030",
            advertiser_name: "Acme",
            payout: "1500.00",
            payload: { user_id: "carol" }
          })
          const rejected = yield* postback(receiver, { offer_id: "4040", payload: {} })
          const markup = yield* postback(receiver, {
            offer_id: "5050",
            payout: "1.00",
            payload: { user_id: "mallory", note: SCRIPT_PAYLOAD }
          })
          expect([alice.status, bob.status, held.status, markup.status]).toEqual([
            200, 200, 200, 200
          ])
          expect(held.body.status).toBe("held")
          expect(rejected.status).toBe(400)
          const ids = {
            alice: alice.body.id as number,
            bob: bob.body.id as number,
            held: held.body.id as number,
            rejected: rejected.body.id as number,
            markup: markup.body.id as number
          }
          // The worker settles the clean ones before the page looks.
          yield* eventually(async () => {
            const statuses = await Promise.all(
              [ids.alice, ids.bob, ids.markup].map(async (id) => {
                const response = await fetch(`${receiver.baseUrl}/api/postbacks/${id}`, {
                  headers: admin
                })
                return ((await response.json()) as Json).status as string
              })
            )
            return statuses.every((s) => s === "credited") ? true : undefined
          })

          const browser = yield* launchChromium
          const context = yield* Effect.acquireRelease(
            step(() =>
              browser.newContext({
                viewport: { width: 1360, height: 900 },
                acceptDownloads: true,
                timezoneId: "UTC"
              })
            ),
            (context) => Effect.promise(() => context.close())
          )
          const { page, watch } = yield* step(() => watchedPage(context))
          page.setDefaultTimeout(20_000)
          mkdirSync(ARTIFACTS, { recursive: true })
          // A failure leaves the page as it was, and what it logged, in the artifacts.
          yield* Effect.addFinalizer((exit) =>
            exit._tag === "Success"
              ? Effect.void
              : Effect.promise(async () => {
                  await page.screenshot({ path: `${ARTIFACTS}console-failure.png`, fullPage: true })
                  console.error(`page console:\n${watch.console.join("\n")}`)
                })
          )

          // The page and its assets answer with the contract's headers.
          const response = yield* step(() => page.goto(receiver.baseUrl))
          const headers = response!.headers()
          expect(headers["content-security-policy"]).toContain("script-src 'self'")
          expect(headers["content-security-policy"]).toContain("default-src 'none'")
          expect(headers["x-content-type-options"]).toBe("nosniff")
          expect(headers["referrer-policy"]).toBe("no-referrer")
          expect(headers["cache-control"]).toBe("no-cache")
          const script = yield* step(() =>
            page.locator('script[type="module"]').getAttribute("src")
          )
          expect(script).toMatch(/^\/assets\/main-[A-Z0-9]+\.js$/)
          const asset = yield* step(() => fetch(`${receiver.baseUrl}${script}`))
          expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
          expect(asset.headers.get("content-type")).toContain("javascript")
          const missing = yield* step(() => fetch(`${receiver.baseUrl}/assets/main-NOPE.js`))
          expect(missing.status).toBe(404)
          expect(((yield* step(() => missing.json())) as Json).error).toBe("not_found")

          // A wrong token is refused with the API's reason; the right one is kept.
          yield* step(async () => {
            await page.getByLabel("Admin token").fill("not-the-admin-token-0123456789")
            await page.getByRole("button", { name: "Sign in" }).click()
            await page.getByRole("alert").filter({ hasText: "refused (401)" }).waitFor()
            await page.getByLabel("Admin token").fill(TEST_ADMIN_TOKEN)
            await page.getByLabel("Your name").fill("Dana")
            await page.getByRole("button", { name: "Sign in" }).click()
            await page.getByRole("heading", { name: "Delivery log" }).waitFor()
          })
          const stored = yield* step(() =>
            page.evaluate(() =>
              (globalThis as unknown as InPage).sessionStorage.getItem("receiver.adminToken")
            )
          )
          expect(stored).toBe(TEST_ADMIN_TOKEN)

          // A preset and a filter: last 7 days, advertiser Acme: bob's and the held one.
          yield* step(async () => {
            await page.getByLabel("Received").selectOption("last_7_days")
            await page.getByLabel("Advertiser").fill("acme")
            await page.getByRole("button", { name: "Apply filters" }).click()
            await page.waitForFunction(
              (expected) =>
                [
                  ...(globalThis as unknown as InPage).document.querySelectorAll(
                    "table.postbacks tbody tr"
                  )
                ]
                  .map((r) => r.dataset.id)
                  .join(",") === expected,
              `${ids.held},${ids.bob}`
            )
          })
          expect(yield* step(() => shownIds(page))).toEqual([ids.held, ids.bob])
          yield* step(() => row(page, ids.held).getByText("held for review").waitFor())
          // The summary tiles count the same two rows.
          yield* step(() =>
            page
              .locator(".tile")
              .filter({ hasText: "Postbacks" })
              .locator(".tile-value")
              .filter({ hasText: /^2$/ })
              .waitFor()
          )

          // Open the held row, approve it: the worker credits it, the dialog shows it.
          const opener = page.getByRole("button", {
            name: `Open postback ${ids.held}`,
            exact: true
          })
          yield* step(async () => {
            await opener.click()
            const dialog = page.getByRole("dialog")
            await dialog.getByRole("heading", { name: `Postback #${ids.held}` }).waitFor()
            await dialog.getByText("above PAYOUT_HOLD_ABOVE").first().waitFor()
            await dialog.getByLabel("Reason").fill("checked with Acme: a real order")
            await dialog.getByRole("button", { name: "Approve" }).click()
            await dialog.locator("h2 .status-credited").waitFor()
            await dialog.getByText("checked with Acme: a real order").waitFor()
            await dialog.getByText("Dana").first().waitFor()
            await page.screenshot({ path: `${ARTIFACTS}console-detail.png` })
            // Escape closes the dialog and gives the focus back to the row's button.
            await page.keyboard.press("Escape")
            await dialog.waitFor({ state: "detached" })
            await page.waitForFunction(
              (label) =>
                (globalThis as unknown as InPage).document.activeElement?.getAttribute(
                  "aria-label"
                ) === label,
              `Open postback ${ids.held}`
            )
          })
          yield* step(() => row(page, ids.held).locator(".status-credited").waitFor())
          const approved = yield* api(receiver, `/api/postbacks/${ids.held}`)
          expect(approved.body.status).toBe("credited")

          // The CSV of the current filter, downloaded with the token in a header.
          const csvText = yield* step(async () => {
            const [download] = await Promise.all([
              page.waitForEvent("download"),
              page.getByRole("button", { name: "Download CSV" }).click()
            ])
            expect(download.suggestedFilename()).toMatch(/^postbacks-.*\.csv$/)
            return readFile((await download.path())!, "utf8")
          })
          const records = yield* Stream.make(csvText).pipe(
            Stream.pipeThroughChannel(Csv.decodeString({ headers: true })),
            Stream.runCollect
          )
          const csvIds = records.map((record: Json) => Number(record.id)).sort((a, b) => a - b)
          expect(csvIds).toEqual([ids.bob, ids.held].sort((a, b) => a - b))
          const heldRecord: Json = records.find((record: Json) => Number(record.id) === ids.held)
          expect(heldRecord.status).toBe("credited")
          expect(heldRecord.payout).toBe("1500.00")

          // Every filter off: the rejected row shows its reason; the markup is text.
          yield* step(async () => {
            await page.getByRole("button", { name: "Clear", exact: true }).click()
            await page.getByLabel("Received").selectOption("last_7_days")
            await page.getByRole("button", { name: "Apply filters" }).click()
            await row(page, ids.rejected).getByText("rejected").waitFor()
            await row(page, ids.markup).waitFor()
          })
          const reason = yield* step(() =>
            row(page, ids.rejected).locator("td.reason").textContent()
          )
          expect(reason).toMatch(/payout/)
          yield* step(async () => {
            await page
              .getByRole("button", { name: `Open postback ${ids.markup}`, exact: true })
              .click()
            const dialog = page.getByRole("dialog")
            await dialog.locator("dd", { hasText: SCRIPT_PAYLOAD }).waitFor()
            await page.keyboard.press("Escape")
            await dialog.waitFor({ state: "detached" })
          })
          expect(yield* step(() => page.locator('img[src="x"]').count())).toBe(0)

          // "Send test postback": the new row appears, marked as a test.
          yield* step(async () => {
            await page.getByRole("button", { name: "Send test postback" }).click()
            await page.getByText(/Test postback #\d+ answered HTTP 200/).waitFor()
          })
          const sent = yield* step(() =>
            page.getByText(/Test postback #\d+ answered HTTP 200/).textContent()
          )
          const testId = Number(/#(\d+)/.exec(sent ?? "")?.[1])
          yield* step(() => row(page, testId).locator(".tag-test").waitFor())

          // "Hide test postbacks" leaves it out; the others stay.
          yield* step(async () => {
            await page.getByLabel("Hide test postbacks").check()
            await page.getByRole("button", { name: "Apply filters" }).click()
            await row(page, testId).waitFor({ state: "detached" })
            await row(page, ids.alice).waitFor()
            await page.getByLabel("Hide test postbacks").uncheck()
            await page.getByRole("button", { name: "Apply filters" }).click()
            await row(page, testId).waitFor()
          })

          // Repair the rejected one: its stored request with the payout given is ingested anew.
          yield* step(async () => {
            await page
              .getByRole("button", { name: `Open postback ${ids.rejected}`, exact: true })
              .click()
            const dialog = page.getByRole("dialog")
            await dialog.getByRole("heading", { name: "Raw request" }).waitFor()
            await dialog.getByLabel("payout (USD, e.g. 2.10)").fill("4.00")
            await dialog.getByRole("button", { name: "Repair and re-ingest" }).click()
            await dialog.getByText(/Repair: done \(postback #\d+\)/).waitFor()
            await dialog.locator("h2 .status-repaired").waitFor()
          })
          const repairedText = yield* step(() =>
            page
              .getByRole("dialog")
              .getByText(/Repair: done/)
              .textContent()
          )
          const repairedId = Number(/#(\d+)/.exec(repairedText ?? "")?.[1])
          yield* step(async () => {
            await page.keyboard.press("Escape")
            await page.getByRole("dialog").waitFor({ state: "detached" })
            await row(page, ids.rejected).locator(".status-repaired").waitFor()
          })

          // The repaired postback names no user: attribute it, and the worker credits dave.
          yield* step(async () => {
            // The detail reads a postback the worker has not settled yet again until it
            // is (unattributed, here), so the attribute form shows up there.
            await row(page, repairedId).waitFor()
            await page
              .getByRole("button", { name: `Open postback ${repairedId}`, exact: true })
              .click()
            const dialog = page.getByRole("dialog")
            await dialog.locator("h2 .status-unattributed").waitFor()
            await dialog.getByLabel("Credit to user id").fill("dave")
            await dialog.getByRole("button", { name: "Attribute" }).click()
            await dialog.locator("h2 .status-credited").waitFor()
            await page.keyboard.press("Escape")
            await dialog.waitFor({ state: "detached" })
          })
          const dave = yield* api(receiver, "/api/users/dave")
          expect(dave.body.balance).toBe("40")

          // Reverse bob's credit (a reason is required): a negative ledger entry, the balance 0.
          yield* step(async () => {
            await page
              .getByRole("button", { name: `Open postback ${ids.bob}`, exact: true })
              .click()
            const dialog = page.getByRole("dialog")
            const reverse = dialog.getByRole("button", { name: "Reverse the credit" })
            await dialog.getByLabel("Reason").fill("the order was refunded")
            await reverse.click()
            await dialog.locator("h2 .status-reversed").waitFor()
            await dialog.getByRole("cell", { name: "reversal" }).waitFor()
            await page.keyboard.press("Escape")
            await dialog.waitFor({ state: "detached" })
          })
          const bobLedger = yield* api(receiver, "/api/users/bob")
          expect(bobLedger.body.balance).toBe("0")

          // Users: alice's balance (2.10 USD x 10 points).
          yield* step(async () => {
            await page.getByRole("button", { name: "Users", exact: true }).click()
            await page.getByLabel("User id (or part of it)").fill("ali")
            await page.getByRole("button", { name: "Search", exact: true }).click()
            await page.getByRole("button", { name: "alice", exact: true }).click()
            await page.locator(".balance").filter({ hasText: "21" }).waitFor()
            await page.screenshot({ path: `${ARTIFACTS}console-users.png`, fullPage: true })
            await page.getByRole("button", { name: "Postbacks", exact: true }).click()
            await row(page, testId).waitFor()
          })

          // Screenshots: desktop, and a phone's 390 px, where nothing overflows the page.
          yield* step(() =>
            page.screenshot({ path: `${ARTIFACTS}console-desktop.png`, fullPage: true })
          )
          if (process.env.CONSOLE_SCREENSHOT === "1") {
            copyFileSync(`${ARTIFACTS}console-desktop.png`, README_SCREENSHOT)
          }
          yield* step(() => page.setViewportSize({ width: 390, height: 844 }))
          // The chart follows its box when it is told of the resize (a ResizeObserver): wait for it.
          yield* step(() =>
            page.waitForFunction(() => {
              const { document, innerWidth } = globalThis as unknown as InPage
              return document.documentElement.scrollWidth <= innerWidth
            })
          )
          yield* step(() =>
            page.screenshot({ path: `${ARTIFACTS}console-phone.png`, fullPage: true })
          )

          // "Load more" follows the keyset cursor: 60 more postbacks fill two pages,
          // every row once.
          yield* Effect.forEach(
            Array.from({ length: 60 }, (_, i) => i),
            (i) =>
              postback(receiver, {
                offer_id: `bulk-${i}`,
                payout: "0.50",
                payload: { user_id: `bulk-user-${i}` }
              }),
            { concurrency: 10 }
          )
          const total = (yield* api(receiver, "/api/postbacks/summary?preset=last_7_days")).body
            .total as number
          expect(total).toBeGreaterThan(60)
          yield* step(async () => {
            await page.getByRole("button", { name: "Refresh", exact: true }).click()
            await page.locator("table.postbacks tbody tr").nth(49).waitFor()
            await page.getByRole("button", { name: "Load more" }).click()
            await page
              .locator("table.postbacks tbody tr")
              .nth(total - 1)
              .waitFor()
            await page.getByRole("button", { name: "Load more" }).waitFor({ state: "detached" })
          })
          const paged = yield* step(() => shownIds(page))
          expect(paged.length).toBe(total)
          expect(new Set(paged).size).toBe(total)
          // In the API's order (received time, then id, newest first) across both pages.
          const listed = (yield* api(receiver, "/api/postbacks?preset=last_7_days&limit=500")).body
          expect(paged).toEqual(listed.items.map((item: Json) => item.id))

          // Sign out: the token leaves the tab's storage and the token form is back.
          yield* step(async () => {
            await page.getByRole("button", { name: "Sign out" }).click()
            await page.getByLabel("Admin token").waitFor()
          })
          expect(
            yield* step(() =>
              page.evaluate(() =>
                (globalThis as unknown as InPage).sessionStorage.getItem("receiver.adminToken")
              )
            )
          ).toBeNull()

          // Nothing ran that should not have: no dialog, no CSP refusal, no page error.
          expect(watch.dialogs).toEqual([])
          expect(watch.cspViolations).toEqual([])
          expect(watch.cspConsole).toEqual([])
          expect(watch.pageErrors).toEqual([])
        })
    )
  }
)
