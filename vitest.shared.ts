import type { ViteUserConfig } from "vitest/config"

/**
 * Settings every workspace project shares. The `@org/source` export condition
 * makes workspace packages resolve to their TypeScript sources, so tests never
 * run against a stale `dist/`.
 */
export const sharedProjectConfig: ViteUserConfig = {
  resolve: {
    conditions: ["@org/source", "module", "node", "default"]
  },
  ssr: {
    resolve: {
      conditions: ["@org/source", "module", "node", "default"],
      externalConditions: ["@org/source"]
    }
  },
  test: {
    include: ["test/**/*.test.ts"],
    benchmark: { include: ["bench/**/*.bench.ts"] },
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
}
