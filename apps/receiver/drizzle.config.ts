import { defineConfig } from "drizzle-kit"

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/Db/schema.ts",
  out: "./drizzle"
})
