import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const TEST_SECRET = "test-secret-0123456789abcdef"
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef"

/** Receiver settings for tests: a free port, fixed secrets, a fresh data folder. */
export const testEnv = (env: Record<string, string> = {}): Record<string, string> => ({
  PORT: "0",
  HOST: "127.0.0.1",
  POSTBACK_SECRET: TEST_SECRET,
  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  RECEIVER_DATA_DIR: mkdtempSync(join(tmpdir(), "receiver-test-")),
  POINTS_PER_USD: "10",
  WORKER_POLL_MS: "200",
  ...env
})
