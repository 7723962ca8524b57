import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { parsePostbackJson, parsePostbackQuery } from "@org/postback-schema"
import { makePostbackIngest, postbackIdentity } from "../src/index.ts"

interface IdentityCase {
  readonly name: string
  readonly form: "json" | "query"
  readonly input: unknown
  readonly dedupKey?: string
  readonly identity: string
}

// Generated from the receiver's edge before the ingest core existed (see the
// file's description): these values are in databases and must never change.
const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/identity.json", import.meta.url), "utf8")
) as { readonly cases: ReadonlyArray<IdentityCase> }

const SECRET = "s3cret-0123456789abcdef"

describe("postbackIdentity", () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))(
    "is the dedup key the receiver stores: %s",
    (_, c) => {
      const decoded =
        c.form === "json" ? parsePostbackJson(c.input) : parsePostbackQuery(c.input as string)
      if (!decoded.ok) throw new Error(JSON.stringify(decoded.errors))
      expect(postbackIdentity(decoded.postback, { dedupKey: c.dedupKey })).toBe(c.identity)
    }
  )

  it.each(fixture.cases.map((c) => [c.name, c] as const))(
    "the core gives the same identity for the delivery: %s",
    (_, c) => {
      const ingest = makePostbackIngest({ secret: SECRET, dedupKey: c.dedupKey })
      const outcome =
        c.form === "json"
          ? ingest.classify({
              method: "POST",
              url: `/postbacks?secret=${SECRET}`,
              contentType: "application/json",
              body: new TextEncoder().encode(JSON.stringify(c.input)),
              receivedAt: new Date("2023-09-20T15:30:00Z")
            })
          : ingest.classify({
              method: "GET",
              url: `/postbacks?secret=${SECRET}&${c.input as string}`,
              receivedAt: new Date("2023-09-20T15:30:00Z")
            })
      expect(outcome._tag).toBe("Accepted")
      if (outcome._tag === "Accepted") expect(outcome.identity).toBe(c.identity)
    }
  )
})
