import { defineProject } from "vitest/config"
import { sharedProjectConfig } from "../../vitest.shared.ts"

export default defineProject({
  ...sharedProjectConfig,
  test: {
    ...sharedProjectConfig.test,
    // The console page (dist/web) is built once before the tests: every
    // receiver a test starts serves it, and the browser test loads it.
    globalSetup: ["./scripts/build-web.ts"]
  }
})
