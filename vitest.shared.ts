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
    // Limits against a hang, not measures of speed: a test that needs a
    // second on an idle machine may need a minute on a busy CI machine.
    testTimeout: 120_000,
    hookTimeout: 300_000
  }
}
