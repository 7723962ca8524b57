#!/usr/bin/env node
// The Node entry point of the `postback` command: it only wires the process
// (arguments, output, files, Ctrl-C, exit code) to the portable runCli.
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"

/** When `effect`, the peer dependency, is missing or of another major version: what to do. */
const effectProblem = async () => {
  let version
  try {
    const manifest = await readFile(
      fileURLToPath(import.meta.resolve("effect/package.json")),
      "utf8"
    )
    version = JSON.parse(manifest).version
  } catch {
    version = undefined
  }
  if (typeof version === "string" && version.startsWith("4.")) return undefined
  return `it needs effect ~4.1 (a peer dependency), ${version === undefined ? "which is not installed" : `found effect ${version}`}; install it: npm install effect@~4.1`
}

let runCli
try {
  // The package's own export: dist/ when installed, the TypeScript sources
  // when run with --conditions=@org/source (and a TypeScript loader).
  ;({ runCli } = await import("@org/postback-sender"))
} catch (error) {
  const problem =
    (await effectProblem()) ??
    (error?.code === "ERR_MODULE_NOT_FOUND" &&
    !existsSync(new URL("../dist/index.js", import.meta.url))
      ? "in this repository, build it first: pnpm --filter @org/postback-sender build"
      : undefined)
  if (problem === undefined) throw error
  process.stderr.write(
    `postback: cannot load the package (${error?.message ?? error});\n${problem}\n`
  )
  process.exit(70)
}

const controller = new AbortController()
let interrupted = false
process.on("SIGINT", () => {
  if (interrupted) process.exit(130)
  interrupted = true
  process.stderr.write("\nstopping; press Ctrl-C again to quit at once\n")
  controller.abort(new Error("interrupted"))
})

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => {
    process.stdout.write(text)
  },
  stderr: (text) => {
    process.stderr.write(text)
  },
  readTextFile: (path) => readFile(path, "utf8"),
  signal: controller.signal
})
