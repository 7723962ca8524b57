// Packs every SDK package with `pnpm pack` (the files, exports and rewritten
// `workspace:` ranges users get), after checking each has a built dist/.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { packages, packDir, tarball } from "./packages.mjs"

rmSync(packDir, { recursive: true, force: true })
mkdirSync(packDir, { recursive: true })
for (const p of packages) {
  if (!existsSync(join(p.dir, "dist", "index.js"))) {
    console.error(`${p.name}: dist/ is missing; run \`pnpm build\` first`)
    process.exit(1)
  }
  execFileSync("pnpm", ["pack", "--pack-destination", packDir], { cwd: p.dir, stdio: "ignore" })
  if (!existsSync(tarball(p))) {
    console.error(`${p.name}: pnpm pack did not write ${tarball(p)}`)
    process.exit(1)
  }
  console.log(`packed ${p.name}@${p.version}`)
}
