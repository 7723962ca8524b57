import { existsSync } from "node:fs"
import { Effect } from "effect"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"

/**
 * Debian's Chromium (`apt-get install chromium`): playwright-core drives it
 * and never downloads a browser of its own.
 */
export const CHROMIUM_PATH = "/usr/bin/chromium"

/**
 * The browser tests skip only on a machine without Chromium and without
 * `CI`; with `CI` set a missing Chromium fails them (CI installs it).
 */
export const skipBrowserTests: boolean = !existsSync(CHROMIUM_PATH) && !process.env.CI

/** Headless Chromium, closed when the scope closes. */
export const launchChromium: Effect.Effect<Browser, never, import("effect").Scope.Scope> =
  Effect.acquireRelease(
    Effect.promise(() =>
      chromium.launch({
        executablePath: CHROMIUM_PATH,
        args: [
          "--no-sandbox",
          "--disable-background-networking",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-component-update",
          "--disable-sync"
        ]
      })
    ),
    (browser) => Effect.promise(() => browser.close())
  )

/** What a page did that a test of the console forbids, collected while it runs. */
export interface PageWatch {
  /** `securitypolicyviolation` events: `<directive> <blocked URI>`. */
  readonly cspViolations: Array<string>
  /** Console messages about the Content-Security-Policy (Chromium logs each refusal). */
  readonly cspConsole: Array<string>
  /** Uncaught exceptions in the page. */
  readonly pageErrors: Array<string>
  /** `alert`, `confirm`, `prompt` or `beforeunload` dialogs opened (each dismissed). */
  readonly dialogs: Array<string>
  /** Every console message, for a failure's report. */
  readonly console: Array<string>
}

/**
 * A new page in `context` whose CSP violations, uncaught errors and dialogs
 * are recorded. The violation listener is added before any page script runs
 * (an init script is injected by the browser, not subject to the page's CSP).
 */
export const watchedPage = async (
  context: BrowserContext
): Promise<{ readonly page: Page; readonly watch: PageWatch }> => {
  const watch: PageWatch = {
    cspViolations: [],
    cspConsole: [],
    pageErrors: [],
    dialogs: [],
    console: []
  }
  const page = await context.newPage()
  await page.exposeFunction("__reportCspViolation", (text: string) => {
    watch.cspViolations.push(text)
  })
  // Text, not a function: this program is typed for Node, not the DOM.
  await page.addInitScript(
    `document.addEventListener("securitypolicyviolation", (event) =>
      window.__reportCspViolation(event.violatedDirective + " " + event.blockedURI))`
  )
  page.on("console", (message) => {
    const text = `${message.type()}: ${message.text()}`
    watch.console.push(text)
    if (/content security policy/i.test(message.text())) watch.cspConsole.push(text)
  })
  page.on("pageerror", (error) => {
    watch.pageErrors.push(String(error))
  })
  page.on("dialog", (dialog) => {
    watch.dialogs.push(`${dialog.type()}: ${dialog.message()}`)
    void dialog.dismiss()
  })
  return { page, watch }
}
