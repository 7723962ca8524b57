/**
 * Builds the operator console page (`web/`) into `dist/web/`:
 *
 * - `dist/web/assets/<name>-<hash>.<ext>`: the bundled script and stylesheet
 *   (esbuild: Preact's TSX, Chart.js, the CSS), named by a hash of their
 *   content, so the receiver serves them as immutable for a year;
 * - `dist/web/manifest.json`: `{ script, style, files }`, the asset names the
 *   page's HTML points at (`src/Page.ts` reads it).
 *
 * Several builds may run at once (test runs in parallel): each asset is
 * written under a temporary name and renamed into place, and the manifest
 * last, so a reader never sees a half-written file or a manifest naming a
 * file not yet there. Assets no manifest names any more are pruned once they
 * are an hour old.
 *
 * Run: `tsx scripts/build-web.ts [--quiet]` (part of `pnpm build` and `pnpm
 * dev`); vitest runs it once before the tests through `setup` (its
 * `globalSetup`).
 */
import { randomUUID } from "node:crypto"
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises"
import { basename, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as esbuild from "esbuild"

const appDir = fileURLToPath(new URL("..", import.meta.url))

/** Where the page is built: `dist/web` of the receiver. */
export const webOutDir: string = join(appDir, "dist", "web")

/** The manifest `src/Page.ts` reads: asset file names under `/assets/`. */
export interface WebManifest {
  /** The entry script, e.g. `main-3FJ2K5QX.js`. */
  readonly script: string
  /** The stylesheet, e.g. `main-OV3D6QTL.css`. */
  readonly style: string
  /** Every built asset (script, stylesheet, source maps). */
  readonly files: ReadonlyArray<string>
}

const STALE_AFTER_MS = 60 * 60 * 1000

const writeAtomically = async (path: string, contents: Uint8Array | string): Promise<void> => {
  const temporary = `${path}.${randomUUID()}.tmp`
  await writeFile(temporary, contents)
  await rename(temporary, path)
}

/** Bundles `web/main.tsx` and writes the assets and the manifest; answers the manifest. */
export const buildWeb = async (): Promise<WebManifest> => {
  const assetsDir = join(webOutDir, "assets")
  const result = await esbuild.build({
    absWorkingDir: appDir,
    entryPoints: { main: "web/main.tsx" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    jsx: "automatic",
    jsxImportSource: "preact",
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    outdir: assetsDir,
    metafile: true,
    write: false,
    legalComments: "linked",
    logLevel: "warning"
  })
  await mkdir(assetsDir, { recursive: true })
  const files: Array<string> = []
  for (const file of result.outputFiles) {
    await writeAtomically(file.path, file.contents)
    files.push(basename(file.path))
  }
  const outputs = Object.entries(result.metafile.outputs)
  const entry = outputs.find(([, output]) => output.entryPoint === "web/main.tsx")
  if (entry === undefined) throw new Error("build-web: esbuild produced no entry script")
  const style = entry[1].cssBundle
  if (style === undefined) throw new Error("build-web: web/main.tsx imports no stylesheet")
  const manifest: WebManifest = { script: basename(entry[0]), style: basename(style), files }
  await writeAtomically(join(webOutDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  const now = Date.now()
  for (const name of await readdir(assetsDir)) {
    if (files.includes(name)) continue
    const path = join(assetsDir, name)
    const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: now }))
    if (now - mtimeMs > STALE_AFTER_MS) await rm(path, { force: true })
  }
  return manifest
}

/** vitest `globalSetup`: the page is built once before the tests that serve it. */
export const setup = async (): Promise<void> => {
  await buildWeb()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const manifest = await buildWeb()
  // `--quiet` for `pnpm dev`, whose output (`dev urls`) is read by people and scripts.
  if (!process.argv.includes("--quiet")) {
    console.log(`console page built in ${webOutDir}: ${manifest.files.join(", ")}`)
  }
}
