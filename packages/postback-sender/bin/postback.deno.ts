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
import { runCli } from "../src/index.ts"

const encoder = new TextEncoder()
const writer =
  (stream: { writeSync(p: Uint8Array): number }) =>
  (text: string): void => {
    const bytes = encoder.encode(text)
    let written = 0
    while (written < bytes.length) written += stream.writeSync(bytes.subarray(written))
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
