import { readFile } from "node:fs/promises"
import { extname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"

/**
 * Where `scripts/build-web.ts` writes the console page: `dist/web` of the
 * receiver. The same path from `src/Page.ts` (run through tsx) and from
 * `dist/Page.js` (built).
 */
const WEB_DIR = fileURLToPath(new URL("../dist/web/", import.meta.url))

/**
 * The headers of every answer of the page (`/`, `/assets/*`, and their
 * 404s). The page's script and stylesheet come from the receiver only, and
 * no inline script or style runs: a stored value that reached the DOM as
 * markup could still not run (the page renders stored values as text).
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

/** Assets are named by a hash of their content: a new build is a new name. */
const IMMUTABLE = "public, max-age=31536000, immutable"

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2"
}

interface Manifest {
  readonly script: string
  readonly style: string
  readonly files: ReadonlyArray<string>
}

/** The built page, read once at start: the HTML and every asset by file name. */
interface BuiltPage {
  readonly html: string
  readonly assets: ReadonlyMap<string, { readonly body: Uint8Array; readonly contentType: string }>
}

const pageHtml = (manifest: Manifest): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Operator console · postback receiver</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${manifest.style}">
<script type="module" src="/assets/${manifest.script}"></script>
</head>
<body>
<div id="app"><noscript>The operator console needs JavaScript.</noscript></div>
</body>
</html>
`

const loadBuiltPage = Effect.tryPromise({
  try: async (): Promise<BuiltPage> => {
    const manifest = JSON.parse(await readFile(join(WEB_DIR, "manifest.json"), "utf8")) as Manifest
    const assets = new Map<string, { body: Uint8Array; contentType: string }>()
    for (const name of manifest.files) {
      assets.set(name, {
        body: await readFile(join(WEB_DIR, "assets", name)),
        contentType: CONTENT_TYPES[extname(name)] ?? "application/octet-stream"
      })
    }
    return { html: pageHtml(manifest), assets }
  },
  catch: (cause) => cause
})

const errorResponse = (status: number, error: string, message: string) =>
  HttpServerResponse.jsonUnsafe(
    { error, message },
    { status, headers: { ...PAGE_SECURITY_HEADERS, "cache-control": "no-cache" } }
  )

const NOT_BUILT =
  "the console page is not built: run `pnpm --filter @org/receiver build` (or `tsx scripts/build-web.ts` in apps/receiver)"

/**
 * The operator console: `GET /` answers the page's HTML (`cache-control:
 * no-cache`, so a new build is picked up at the next load) and `GET
 * /assets/<name>-<hash>.<ext>` its script and stylesheet (immutable for a
 * year). Every answer carries {@link PAGE_SECURITY_HEADERS}.
 *
 * The page is read from `dist/web` once, at start; when it is not built the
 * receiver still starts (the API works without it), logs a warning, and `/`
 * answers `503` saying how to build it. An unknown asset is a `404` in the
 * API's error shape `{ error: "not_found", message }`.
 */
export const PageLive: Layer.Layer<never, never, HttpRouter.HttpRouter> = Layer.unwrap(
  Effect.gen(function* () {
    const built = yield* loadBuiltPage.pipe(
      Effect.tapError((cause) => Effect.logWarning(NOT_BUILT, cause)),
      Effect.option
    )
    const page = built._tag === "Some" ? built.value : undefined
    const index = Effect.sync(() =>
      page === undefined
        ? errorResponse(503, "unavailable", NOT_BUILT)
        : HttpServerResponse.text(page.html, {
            contentType: "text/html; charset=utf-8",
            headers: { ...PAGE_SECURITY_HEADERS, "cache-control": "no-cache" }
          })
    )
    const asset = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const name = decodeURIComponent(request.url.split("?")[0]!.slice("/assets/".length))
      const file = page?.assets.get(name)
      if (file === undefined) {
        return errorResponse(
          404,
          "not_found",
          `no asset ${JSON.stringify(name)}: the page's assets change name with every build; reload /`
        )
      }
      return HttpServerResponse.uint8Array(file.body, {
        contentType: file.contentType,
        headers: { ...PAGE_SECURITY_HEADERS, "cache-control": IMMUTABLE }
      })
    }).pipe(
      Effect.catchDefect(() =>
        Effect.succeed(errorResponse(404, "not_found", "no such asset: reload /"))
      )
    )
    return Layer.mergeAll(
      HttpRouter.add("GET", "/", index),
      HttpRouter.add("GET", "/assets/*", asset)
    )
  })
)
