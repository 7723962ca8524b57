/**
 * The operator console: entry of the page bundle (`scripts/build-web.ts`).
 * Everything it shows comes from the admin API; stored values are rendered
 * as text only (Preact escapes text; the page never sets markup from data).
 */
import "./styles.css"
import { render } from "preact"
import { App } from "./App.tsx"

const root = document.getElementById("app")
if (root !== null) {
  root.textContent = ""
  render(<App />, root)
}
