#!/usr/bin/env node
// The Node entry point of the `postback` command: it only wires the process
// (arguments, output, files, Ctrl-C, exit code) to the portable runCli.
import { readFile } from "node:fs/promises"

let runCli
try {
  // The package's own export: dist/ when installed, the TypeScript sources
  // when run with --conditions=@org/source (and a TypeScript loader).
  ;({ runCli } = await import("@org/postback-sender"))
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND") {
    process.stderr.write(
      `postback: cannot load the package (${error.message});\n` +
        "in this repository, build it first: pnpm --filter @org/postback-sender build\n"
    )
    process.exit(70)
  }
  throw error
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
