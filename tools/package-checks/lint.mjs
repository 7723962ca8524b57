// publint and Are The Types Wrong (ESM-only profile) on every packed package:
// what npm users get must resolve, with types, under every module setting
// that can load an ESM-only package.
import { execFileSync } from "node:child_process"
import { packages, tarball } from "./packages.mjs"

let failed = 0
for (const p of packages) {
  for (const [tool, args] of [
    ["publint", [tarball(p), "--strict"]],
    ["attw", [tarball(p), "--profile", "esm-only", "--format", "table-flipped"]]
  ]) {
    try {
      const out = execFileSync(tool, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      console.log(`${p.name}: ${tool} ok`)
      if (process.env.VERBOSE) console.log(out)
    } catch (error) {
      failed++
      console.error(`${p.name}: ${tool} found problems\n${error.stdout ?? ""}${error.stderr ?? ""}`)
    }
  }
}
process.exit(failed === 0 ? 0 : 1)
