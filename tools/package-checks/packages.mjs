// The published SDK packages, in dependency order, and where their packed
// tarballs go.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))
export const packDir = join(root, "node_modules", ".cache", "package-checks", "tarballs")

const order = [
  "postback-schema",
  "postback-macros",
  "postback-retry",
  "reward-converter",
  "postback-sender",
  "postback-handler"
]

/** `{ name, dir, version }` of every non-private package under packages/, dependencies first. */
export const packages = readdirSync(join(root, "packages"))
  .map((folder) => {
    const dir = join(root, "packages", folder)
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
    return {
      folder,
      dir,
      name: manifest.name,
      version: manifest.version,
      private: manifest.private
    }
  })
  .filter((p) => !p.private)
  .sort((a, b) => {
    const rank = (p) => (order.indexOf(p.folder) === -1 ? order.length : order.indexOf(p.folder))
    return rank(a) - rank(b)
  })

/** The tarball `pnpm pack` writes for a package. */
export const tarball = (p) =>
  join(packDir, `${p.name.replace(/^@/, "").replace("/", "-")}-${p.version}.tgz`)
