import { hash } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { parsePostbackJson, parsePostbackQuery } from "@org/postback-schema"
import { makePostbackIngest, postbackIdentity, secretCheck } from "../src/index.ts"

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
    "is the same with Node's SHA-256, on bytes or on text: %s",
    (_, c) => {
      const decoded =
        c.form === "json" ? parsePostbackJson(c.input) : parsePostbackQuery(c.input as string)
      if (!decoded.ok) throw new Error(JSON.stringify(decoded.errors))
      const options = { dedupKey: c.dedupKey }
      expect(
        postbackIdentity(decoded.postback, {
          ...options,
          sha256: (data) => hash("sha256", data, "buffer")
        })
      ).toBe(c.identity)
      expect(
        postbackIdentity(decoded.postback, {
          ...options,
          sha256Text: (text) => hash("sha256", text, "base64url")
        })
      ).toBe(c.identity)
      const ingest = makePostbackIngest({
        secret: SECRET,
        dedupKey: c.dedupKey,
        sha256Text: (text) => hash("sha256", text, "base64url")
      })
      const outcome = ingest.classify({
        method: "GET",
        url: `/postbacks?secret=${SECRET}&x=1`,
        receivedAt: new Date("2023-09-20T15:30:00Z")
      })
      expect(outcome._tag).not.toBe("Unauthorized")
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

describe("secretCheck", () => {
  const choices = {
    "@noble/hashes": undefined,
    "Node, bytes": (data: Uint8Array) => hash("sha256", data, "buffer"),
    "Node, text": { sha256Text: (text: string) => hash("sha256", text, "base64url") }
  }
  it.each(Object.entries(choices))("accepts the secret alone (%s)", (_, choice) => {
    const matches = secretCheck(SECRET, choice)
    expect(matches(SECRET)).toBe(true)
    for (const wrong of [
      "",
      SECRET.slice(0, -1),
      `${SECRET}x`,
      SECRET.toUpperCase(),
      `${SECRET.slice(0, -1)}\u00e9`,
      null,
      undefined
    ]) {
      expect(matches(wrong)).toBe(false)
    }
  })

  it("refuses a sha256Text that is not a function, naming the option", () => {
    expect(() => makePostbackIngest({ secret: SECRET, sha256Text: "sha256" as never })).toThrow(
      /option sha256Text must be a function/
    )
  })
})
