#!/usr/bin/env node
// Runs a command on Node.js 22.19 or newer, the floor of Effect 4 and vitest 5.
//
//   with-node <command> [args...]
//
// When the Node.js running this script is new enough, the command runs as it
// is. Otherwise Node 22 comes from the npm registry (the `node-<os>-<cpu>`
// packages, kept in npm's cache after the first run) and its folder is put
// first on PATH, so that the command and everything it starts (turbo, pnpm,
// vitest, tsx) run on it. Written for any Node.js from 18 on, without
// dependencies, because it is what runs before the right Node is there.
import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname } from "node:path"

const MINIMUM = [22, 19, 0]
const FETCHED_RANGE = "^22.19.0"

const atLeast = (version, minimum) => {
  const parts = version.replace(/^v/, "").split(".").map(Number)
  for (let i = 0; i < minimum.length; i++) {
    if ((parts[i] ?? 0) !== minimum[i]) return (parts[i] ?? 0) > minimum[i]
  }
  return true
}

const fail = (message) => {
  process.stderr.write(`with-node: ${message}\n`)
  process.exit(1)
}

const [command, ...args] = process.argv.slice(2)
if (command === undefined) fail("usage: with-node <command> [args...]")

const isWindows = process.platform === "win32"
const env = { ...process.env }

if (!atLeast(process.version, MINIMUM)) {
  const cpu = process.arch
  const os = isWindows ? "win" : process.platform
  const pkg = `node-${os}-${cpu}@${FETCHED_RANGE}`
  const npm = isWindows ? "npm.cmd" : "npm"
  const found = spawnSync(
    npm,
    [
      "exec",
      "--yes",
      "--prefer-offline",
      `--package=${pkg}`,
      "--",
      "node",
      "-p",
      "process.execPath + ' ' + process.version"
    ],
    { encoding: "utf8", shell: isWindows, stdio: ["ignore", "pipe", "pipe"] }
  )
  const [execPath, version] = (found.stdout ?? "").trim().split(" ")
  if (
    found.status !== 0 ||
    !execPath ||
    !existsSync(execPath) ||
    !atLeast(version ?? "", MINIMUM)
  ) {
    fail(
      `Node.js ${MINIMUM.join(".")} or newer is needed (this is ${process.version}), and ${pkg} ` +
        `could not be fetched from the npm registry${found.stderr ? `:\n${found.stderr.trim()}` : "."}\n` +
        "Install Node.js 22 or 24 (https://nodejs.org, nvm, fnm or your package manager) and run the command again."
    )
  }
  if (env.WITH_NODE_QUIET === undefined) {
    process.stderr.write(
      `with-node: Node.js ${process.version} is older than ${MINIMUM.join(".")}; running on Node.js ${version} (${pkg.split("@")[0]} from the npm registry)\n`
    )
  }
  const pathKey = Object.keys(env).find((key) => key.toUpperCase() === "PATH") ?? "PATH"
  env[pathKey] = `${dirname(execPath)}${isWindows ? ";" : ":"}${env[pathKey] ?? ""}`
  // Child processes of this one see the new Node first; say so once.
  env.WITH_NODE_QUIET = "1"
}

const child = spawn(command, args, { stdio: "inherit", env, shell: isWindows })
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal))
}
child.on("error", (error) => fail(`cannot run ${command}: ${error.message}`))
child.on("exit", (code, signal) => {
  if (signal === null) process.exit(code ?? 1)
  // End the way the command ended, so that callers see the signal.
  process.removeAllListeners(signal)
  process.kill(process.pid, signal)
})
