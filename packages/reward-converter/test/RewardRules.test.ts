import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Decimal } from "@org/postback-schema"
import { Effect, Result, Schema } from "effect"
import {
  convert,
  encodeRules,
  parseRules,
  parseRulesEffect,
  parseRulesJson,
  parseRulesJsonResult,
  parseRulesResult,
  RewardRulesError,
  RewardRulesSchema,
  type RuleIssue,
  rewardRulesJsonSchema
} from "../src/index.ts"

const readText = (relative: string): string =>
  readFileSync(new URL(relative, import.meta.url), "utf8")

const issuesOf = (json: unknown): ReadonlyArray<RuleIssue> =>
  Result.match(parseRulesResult(json), {
    onFailure: (error) => error.issues,
    onSuccess: () => []
  })

const campaign = (name: string, from: string, until: string, extra: object = {}) => ({
  name,
  multiplier: "2",
  from,
  until,
  ...extra
})

describe("parseRules", () => {
  it("accepts { multiplier } alone and fills in the defaults", () => {
    const rules = parseRules({ multiplier: "10" })
    expect(rules.multiplier.equals(Decimal.parse("10"))).toBe(true)
    expect(rules).toMatchObject({
      rounding: "floor",
      credit: "loyalty-boost-only",
      overrides: [],
      campaigns: []
    })
    expect(rules.bonus).toBeUndefined()
    expect(rules.minPoints).toBeUndefined()
    expect(rules.maxPoints).toBeUndefined()
  })

  it("reads every field of a full rules file", () => {
    const rules = parseRulesJson(readText("../examples/rewards.json"))
    expect(rules.multiplier.toString()).toBe("10")
    expect(rules.bonus).toBe(5n)
    expect(rules.minPoints).toBe(1n)
    expect(rules.maxPoints).toBe(50000n)
    expect(rules.overrides[0]?.multiplier?.toString()).toBe("12.5")
    expect(rules.overrides[1]).toMatchObject({ advertiserName: "Globex", bonus: 0n })
    expect(rules.campaigns[0]?.from.toISOString()).toBe("2024-11-29T05:00:00.000Z")
    expect(rules.campaigns[1]?.advertiserNames).toEqual(["Globex"])
    expect(Object.isFrozen(rules) && Object.isFrozen(rules.campaigns)).toBe(true)
  })

  it("returns rules it already validated as they are", () => {
    const rules = parseRules({ multiplier: "10" })
    expect(parseRules(rules)).toBe(rules)
  })

  it("points accept JSON integers and digit strings alike", () => {
    expect(parseRules({ multiplier: "1", bonus: 7 }).bonus).toBe(7n)
    expect(parseRules({ multiplier: "1", bonus: "7" }).bonus).toBe(7n)
    expect(parseRules({ multiplier: "1", maxPoints: "9007199254740991" }).maxPoints).toBe(
      9007199254740991n
    )
  })

  it.each([
    ["offers", "offerIds", ["1", "2"], ["3"]],
    ["advertisers", "advertiserNames", ["X"], ["Y", "Z"]]
  ])("accepts campaigns at the same time for disjoint %s", (_, scope, first, second) => {
    const rules = parseRules({
      multiplier: "1",
      campaigns: [
        campaign("a", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", { [scope]: first }),
        campaign("b", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", { [scope]: second }),
        // back to back with both: until is exclusive
        campaign("c", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")
      ]
    })
    expect(rules.campaigns.map((c) => c.name)).toEqual(["a", "b", "c"])
  })

  describe("errors name the rule and the field", () => {
    const table: Array<[string, unknown, string, string, RegExp]> = [
      [
        "not an object",
        null,
        "top level",
        "",
        /expected an object like \{"multiplier": "10"\}, got null/
      ],
      ["an array", [], "top level", "", /got an array/],
      ["no multiplier", {}, "top level", "multiplier", /^is required$/],
      [
        "a number as multiplier",
        { multiplier: 12.5 },
        "top level",
        "multiplier",
        /got the number 12\.5 \(write decimals as strings/
      ],
      [
        "a negative multiplier",
        { multiplier: "-1" },
        "top level",
        "multiplier",
        /must not be negative, got "-1"/
      ],
      [
        "an exponent",
        { multiplier: "1e2" },
        "top level",
        "multiplier",
        /decimal string like "12\.5", got "1e2"/
      ],
      [
        "a typo",
        { multiplier: "1", multipler: "2" },
        "top level",
        "multipler",
        /unknown field \(known fields: /
      ],
      [
        "an unknown rounding",
        { multiplier: "1", rounding: "up" },
        "top level",
        "rounding",
        /expected one of "floor", "ceil", "down", "half-up", "half-even", got "up"/
      ],
      [
        "an unknown credit policy",
        { multiplier: "1", credit: "loyaltyboost" },
        "top level",
        "credit",
        /expected one of "loyalty-boost-only", "all", got "loyaltyboost"/
      ],
      [
        "a fractional bonus",
        { multiplier: "1", bonus: 1.5 },
        "top level",
        "bonus",
        /whole number of points.*got 1\.5/
      ],
      ["a negative bonus", { multiplier: "1", bonus: -1 }, "top level", "bonus", /got -1/],
      [
        "points above MAX_POINTS",
        { multiplier: "1", maxPoints: "9007199254740992" },
        "top level",
        "maxPoints",
        /from 0 to 9007199254740991/
      ],
      [
        "min above max",
        { multiplier: "1", minPoints: 10, maxPoints: 5 },
        "top level",
        "minPoints",
        /^must not exceed maxPoints \(5\), got 10$/
      ],
      [
        "overrides not an array",
        { multiplier: "1", overrides: {} },
        "top level",
        "overrides",
        /expected an array of overrides/
      ],
      [
        "an override that is not an object",
        { multiplier: "1", overrides: ["1511"] },
        "overrides[0]",
        "",
        /expected an override object, got "1511"/
      ],
      [
        "a negative override multiplier",
        { multiplier: "1", overrides: [{ offerId: "1511", multiplier: "-2" }] },
        'overrides[0] (offer "1511")',
        "multiplier",
        /must not be negative/
      ],
      [
        "an override for nothing",
        { multiplier: "1", overrides: [{ multiplier: "2" }] },
        "overrides[0]",
        "offerId",
        /needs offerId or advertiserName/
      ],
      [
        "an override for an offer and an advertiser",
        { multiplier: "1", overrides: [{ offerId: "1", advertiserName: "A", multiplier: "2" }] },
        'overrides[0] (offer "1")',
        "advertiserName",
        /not both/
      ],
      [
        "an override that changes nothing",
        { multiplier: "1", overrides: [{ advertiserName: "Acme" }] },
        'overrides[0] (advertiser "Acme")',
        "multiplier",
        /must set multiplier, bonus, or both/
      ],
      [
        "two overrides for the same offer",
        {
          multiplier: "1",
          overrides: [
            { offerId: "1511", multiplier: "2" },
            { advertiserName: "Acme", multiplier: "3" },
            { offerId: "1511", bonus: 3 }
          ]
        },
        'overrides[2] (offer "1511")',
        "offerId",
        /overrides\[0\] already applies to offer "1511" \(two overrides for the same offer would be ambiguous\)/
      ],
      [
        "two overrides for the same advertiser",
        {
          multiplier: "1",
          overrides: [
            { advertiserName: "Acme", multiplier: "2" },
            { advertiserName: "Acme", multiplier: "3" }
          ]
        },
        'overrides[1] (advertiser "Acme")',
        "advertiserName",
        /overrides\[0\] already applies to advertiser "Acme"/
      ],
      [
        "a campaign without a time zone",
        {
          multiplier: "1",
          campaigns: [campaign("bf", "2024-11-29T00:00:00", "2024-12-01T00:00:00Z")]
        },
        'campaigns[0] ("bf")',
        "from",
        /ISO 8601 instant with a time zone.*got "2024-11-29T00:00:00"/
      ],
      [
        "a campaign on a day that does not exist",
        {
          multiplier: "1",
          campaigns: [campaign("bf", "2024-11-29T00:00:00Z", "2024-02-30T00:00:00Z")]
        },
        'campaigns[0] ("bf")',
        "until",
        /got "2024-02-30T00:00:00Z"/
      ],
      [
        "a campaign that ends before it starts",
        {
          multiplier: "1",
          campaigns: [campaign("bf", "2024-12-01T00:00:00Z", "2024-12-01T00:00:00Z")]
        },
        'campaigns[0] ("bf")',
        "until",
        /^must be after from \(2024-12-01T00:00:00\.000Z\), got 2024-12-01T00:00:00\.000Z$/
      ],
      [
        "a campaign without a name",
        {
          multiplier: "1",
          campaigns: [
            { multiplier: "2", from: "2024-01-01T00:00:00Z", until: "2024-01-02T00:00:00Z" }
          ]
        },
        "campaigns[0]",
        "name",
        /^is required$/
      ],
      [
        "a campaign with an empty offer list",
        {
          multiplier: "1",
          campaigns: [
            campaign("bf", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", { offerIds: [] })
          ]
        },
        'campaigns[0] ("bf")',
        "offerIds",
        /expected a non-empty array of strings/
      ],
      [
        "an empty offer id in a campaign",
        {
          multiplier: "1",
          campaigns: [
            campaign("bf", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", { offerIds: ["1", ""] })
          ]
        },
        'campaigns[0] ("bf")',
        "offerIds[1]",
        /expected a non-empty string, got ""/
      ],
      [
        "a campaign scoped both ways",
        {
          multiplier: "1",
          campaigns: [
            campaign("bf", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", {
              offerIds: ["1"],
              advertiserNames: ["A"]
            })
          ]
        },
        'campaigns[0] ("bf")',
        "advertiserNames",
        /by offerIds or by advertiserNames, not both/
      ],
      [
        "two campaigns with one name",
        {
          multiplier: "1",
          campaigns: [
            campaign("bf", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
            campaign("bf", "2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z")
          ]
        },
        'campaigns[1] ("bf")',
        "name",
        /campaigns\[0\] already uses the name "bf"/
      ],
      [
        "overlapping campaigns",
        {
          multiplier: "1",
          campaigns: [
            campaign("black-friday", "2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z"),
            campaign("cyber-monday", "2024-12-01T00:00:00Z", "2024-12-03T00:00:00Z")
          ]
        },
        'campaigns[1] ("cyber-monday")',
        "from",
        /overlaps campaigns\[0\] \("black-friday", 2024-11-29T00:00:00\.000Z to 2024-12-02T00:00:00\.000Z\).*campaigns do not stack/
      ],
      [
        "a global campaign overlapping a scoped one",
        {
          multiplier: "1",
          campaigns: [
            campaign("acme", "2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z", {
              advertiserNames: ["Acme"]
            }),
            campaign("all", "2024-11-01T00:00:00Z", "2024-12-01T00:00:00Z")
          ]
        },
        'campaigns[1] ("all")',
        "from",
        /overlaps campaigns\[0\] \("acme"/
      ],
      [
        "campaigns sharing an offer",
        {
          multiplier: "1",
          campaigns: [
            campaign("a", "2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z", { offerIds: ["1", "2"] }),
            campaign("b", "2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z", { offerIds: ["2", "3"] })
          ]
        },
        'campaigns[1] ("b")',
        "from",
        /overlaps campaigns\[0\]/
      ],
      [
        "campaigns scoped by offer and by advertiser at the same time",
        {
          multiplier: "1",
          campaigns: [
            campaign("a", "2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z", { offerIds: ["1"] }),
            campaign("b", "2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z", {
              advertiserNames: ["A"]
            })
          ]
        },
        'campaigns[1] ("b")',
        "from",
        /overlaps campaigns\[0\]/
      ]
    ]

    it.each(table)("%s", (_, json, rule, field, message) => {
      const issues = issuesOf(json)
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatchObject({ rule, field })
      expect(issues[0]?.message).toMatch(message)
      const error = Result.getFailure(parseRulesResult(json)).pipe((o) =>
        o._tag === "Some" ? o.value : undefined
      )
      expect(error).toBeInstanceOf(RewardRulesError)
      const expectedPrefix =
        field === ""
          ? `Invalid reward rules: ${rule}: `
          : `Invalid reward rules: ${rule}, field "${field}": `
      expect(error?.message.startsWith(expectedPrefix)).toBe(true)
      expect(() => parseRules(json)).toThrow(expectedPrefix)
    })

    it("reports every problem at once, one per line", () => {
      const error = Result.getFailure(
        parseRulesResult({
          multiplier: "x",
          rounding: "up",
          overrides: [{ offerId: "1", bonus: -1 }]
        })
      )
      expect(error._tag).toBe("Some")
      const message = error._tag === "Some" ? error.value.message : ""
      expect(message).toBe(
        [
          "Invalid reward rules (3 problems):",
          '- top level, field "multiplier": expected a non-negative decimal string like "12.5", got "x"',
          '- top level, field "rounding": expected one of "floor", "ceil", "down", "half-up", "half-even", got "up"',
          '- overrides[0] (offer "1"), field "bonus": expected a whole number of points from 0 to 9007199254740991 (a JSON integer or a string of digits), got -1'
        ].join("\n")
      )
    })

    it("reports invalid JSON text", () => {
      const error = Result.getFailure(parseRulesJsonResult('{ "multiplier": "10", }'))
      expect(error._tag === "Some" && error.value.message).toMatch(
        /^Invalid reward rules: top level: not valid JSON: /
      )
      expect(() => parseRulesJson("")).toThrow(RewardRulesError)
    })

    it.effect("parseRulesEffect fails with RewardRulesError", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          parseRulesEffect({ multiplier: "1", minPoints: 2, maxPoints: 1 })
        )
        expect(error._tag).toBe("RewardRulesError")
        expect(error.issues[0]?.field).toBe("minPoints")
        const rules = yield* parseRulesEffect({ multiplier: "3" })
        expect(convert("2", rules).points).toBe(6n)
      })
    )
  })

  describe("encodeRules", () => {
    it("writes the rules back as JSON that parses to the same rules", () => {
      const rules = parseRulesJson(readText("../examples/rewards.json"))
      const json = encodeRules(rules)
      expect(json).toMatchObject({
        multiplier: "10",
        bonus: "5",
        campaigns: [
          { name: "black-friday", from: "2024-11-29T05:00:00.000Z" },
          { name: "globex-launch" }
        ]
      })
      const again = parseRules(JSON.parse(JSON.stringify(json)))
      expect(encodeRules(again)).toEqual(json)
    })
  })

  describe("JSON Schema", () => {
    it("reward-rules.schema.json is up to date (pnpm json-schema rewrites it)", () => {
      const committed = readText("../reward-rules.schema.json")
      expect(JSON.parse(committed)).toEqual(rewardRulesJsonSchema())
      expect(committed).toBe(`${JSON.stringify(rewardRulesJsonSchema(), null, 2)}\n`)
    })

    it("describes the rules file", () => {
      const schema = rewardRulesJsonSchema()
      expect(schema.required).toEqual(["multiplier"])
      expect(Object.keys(schema.properties)).toEqual([
        "$schema",
        "description",
        "multiplier",
        "rounding",
        "credit",
        "bonus",
        "minPoints",
        "maxPoints",
        "overrides",
        "campaigns"
      ])
      expect(schema.additionalProperties).toBe(false)
    })

    it("has the fields of RewardRulesSchema at every level", () => {
      type ObjectSchema = {
        readonly required?: ReadonlyArray<string>
        readonly properties: Record<string, { readonly items?: ObjectSchema }>
      }
      const fields = (schema: ObjectSchema) => ({
        properties: Object.keys(schema.properties),
        required: [...(schema.required ?? [])].sort()
      })
      const levels = (schema: ObjectSchema) => [
        fields(schema),
        fields(schema.properties.overrides!.items!),
        fields(schema.properties.campaigns!.items!)
      ]
      const derived = Schema.toJsonSchemaDocument(RewardRulesSchema).schema as ObjectSchema
      expect(levels(rewardRulesJsonSchema() as ObjectSchema)).toEqual(levels(derived))
    })
  })
})
