/**
 * The Deno entry point of the `postback` command: it only wires the process
 * (arguments, output, files, Ctrl-C, exit code) to the portable `runCli`.
 *
 * ```sh
 * deno run -A jsr:@org/postback-sender/cli test https://pub.example/postbacks?secret=s3cret
 * ```
 *
 * @module
 */

const encoder = new TextEncoder()
const writer =
  (stream: { writeSync(p: Uint8Array): number }) =>
  (text: string): void => {
    const bytes = encoder.encode(text)
    let written = 0
    while (written < bytes.length) written += stream.writeSync(bytes.subarray(written))
  }

/** When `effect`, the peer dependency, is missing or of another major version: what to do. */
const effectProblem = async (): Promise<string | undefined> => {
  let version: unknown
  try {
    version = (await import("effect/package.json", { with: { type: "json" } })).default.version
  } catch {
    version = undefined
  }
  if (typeof version === "string" && version.startsWith("4.")) return undefined
  return `it needs effect ~4.1 (a peer dependency), ${version === undefined ? "which cannot be found" : `found effect ${String(version)}`}; add it: deno add npm:effect@~4.1`
}

let runCli: typeof import("../src/index.ts").runCli
try {
  ;({ runCli } = await import("../src/index.ts"))
} catch (error) {
  const problem = await effectProblem()
  if (problem === undefined) throw error
  writer(Deno.stderr)(
    `postback: cannot load the package (${error instanceof Error ? error.message : String(error)});\n${problem}\n`
  )
  Deno.exit(70)
}

const controller = new AbortController()
let interrupted = false
const onInterrupt = () => {
  if (interrupted) Deno.exit(130)
  interrupted = true
  writer(Deno.stderr)("\nstopping; press Ctrl-C again to quit at once\n")
  controller.abort(new Error("interrupted"))
}
Deno.addSignalListener("SIGINT", onInterrupt)

const code = await runCli(Deno.args, {
  stdout: writer(Deno.stdout),
  stderr: writer(Deno.stderr),
  readTextFile: (path) => Deno.readTextFile(path),
  signal: controller.signal
})
Deno.removeSignalListener("SIGINT", onInterrupt)
Deno.exit(code)
