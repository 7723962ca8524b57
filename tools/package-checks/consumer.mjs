// Installs the packed packages into fresh projects the way their READMEs say,
// with npm, pnpm and Yarn, and runs two small apps in each: one on Effect 4.1
// (the Effect API of @org/postback-schema and @org/postback-retry) and one
// with no `effect` installed at all (the plain decoders and the macros
// package). Then checks that a project on the wrong Effect major is refused
// at install time with a message naming `effect`. The `@org/*` packages are
// not on a registry yet: each project maps them to the tarballs (npm
// `overrides`, pnpm `pnpm.overrides`, Yarn `resolutions`).
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { packages, root, tarball } from "./packages.mjs"

const here = fileURLToPath(new URL("./consumer", import.meta.url))
const EFFECT = "~4.1.0"
const files = Object.fromEntries(packages.map((p) => [p.name, `file:${tarball(p)}`]))

const managers = {
  npm: { install: ["npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"]] },
  pnpm: { install: ["pnpm", ["install", "--config.auto-install-peers=true"]] },
  // Yarn 1 caches file: tarballs by name and version (every package here is
  // 0.0.0 until released): a cache of this run's own, so a tarball from an
  // earlier build is never reused.
  yarn: {
    install: [
      "npx",
      [
        "-y",
        "yarn@1.22.22",
        "install",
        "--non-interactive",
        "--silent",
        "--cache-folder",
        mkdtempSync(join(tmpdir(), "consumer-yarn-cache-"))
      ]
    ]
  }
}

const project = (manager, dependencies, name) => {
  const dir = mkdtempSync(join(tmpdir(), `consumer-${manager}-${name}-`))
  const manifest = { name: `consumer-${name}`, private: true, type: "module", dependencies }
  if (manager === "npm") manifest.overrides = files
  if (manager === "pnpm") manifest.pnpm = { overrides: files }
  if (manager === "yarn") manifest.resolutions = files
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  cpSync(here, dir, { recursive: true })
  return dir
}

const run = (dir, [command, args], what) => {
  const result = spawnSync(command, args, {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, CI: "1" }
  })
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`, what }
}

let failures = 0
const check = (label, outcome) => {
  if (outcome.ok) console.log(`  ok    ${label}`)
  else {
    failures++
    console.error(`  FAIL  ${label}\n${outcome.output.trim().replace(/^/gm, "        ")}`)
  }
}

for (const [manager, { install }] of Object.entries(managers)) {
  console.log(`${manager}:`)
  // The schema and retry READMEs' install lines, with effect 4.1.
  const effectDir = project(
    manager,
    {
      "@org/postback-schema": files["@org/postback-schema"],
      "@org/postback-retry": files["@org/postback-retry"],
      effect: EFFECT
    },
    "effect"
  )
  check("install @org/postback-schema @org/postback-retry effect@~4.1", run(effectDir, install))
  check("effect app runs", run(effectDir, ["node", ["effect-app.mjs"]]))
  if (manager === "npm") {
    const deno = join(root, "node_modules", ".bin", "deno")
    check(
      "the same app on Deno",
      run(effectDir, [deno, ["run", "--allow-read", "--allow-env", "effect-app.mjs"]])
    )
  }
  // The macros README's install line for a receiver (macros and the plain
  // decoders), in a project that has no effect.
  const plainDir = project(
    manager,
    {
      "@org/postback-handler": files["@org/postback-handler"],
      "@org/postback-macros": files["@org/postback-macros"],
      "@org/postback-schema": files["@org/postback-schema"]
    },
    "plain"
  )
  const plainInstall =
    manager === "yarn"
      ? install
      : [
          install[0],
          [
            ...install[1],
            ...(manager === "pnpm" ? ["--config.auto-install-peers=false"] : ["--legacy-peer-deps"])
          ]
        ]
  check(
    "install @org/postback-handler @org/postback-macros @org/postback-schema (no effect)",
    run(plainDir, plainInstall)
  )
  rmSync(join(plainDir, "node_modules", "effect"), { recursive: true, force: true })
  check("plain app runs without effect", run(plainDir, ["node", ["plain-app.mjs"]]))
}

// A project on Effect 3 that adds the schema package: npm refuses at install
// time, naming effect and the range the package needs.
console.log("wrong major:")
const wrongDir = project(
  "npm",
  { effect: "3.22.4", "@org/postback-schema": files["@org/postback-schema"] },
  "effect3"
)
const wrong = run(wrongDir, managers.npm.install)
check("npm refuses effect 3 with a message naming effect@~4.1", {
  ok: !wrong.ok && /effect@"?~4\.1/.test(wrong.output),
  output: wrong.output
})

if (failures > 0) {
  console.error(`${failures} consumer check(s) failed`)
  process.exit(1)
}
console.log("all consumer checks passed")
