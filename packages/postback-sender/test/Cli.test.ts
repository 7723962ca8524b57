import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { EXIT, runCli } from "../src/index.ts"
import { type Received, type Reply, startServer, type TestServer } from "./support/server.ts"

const NOW = Date.parse("2025-03-01T10:00:00.000Z")

const run = async (args: ReadonlyArray<string>, files: Record<string, string> = {}) => {
  let stdout = ""
  let stderr = ""
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
    readTextFile: async (path) => {
      const text = files[path]
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`)
      return text
    },
    now: () => NOW
  })
  return { code, stdout, stderr }
}

// One server for the file; each test sets how it answers and reads what it got.
let server: TestServer
let answer: (request: Received) => Reply = () => ({ status: 200, body: "OK" })
let offset = 0
/**
 * Requests to this path are never answered, whichever test runs. A client
 * that gave up on one may still reach the server during a later test (on a
 * busy machine it connects late), so no other test sees them.
 */
const HANG_PATH = "/hang"
const isHang = (request: Received) => request.url.startsWith(HANG_PATH)
/** Requests received since the test began. */
const received = () => server.received.slice(offset).filter((request) => !isHang(request))
const answering = (reply: (request: Received, index: number) => Reply) => {
  offset = server.received.length
  answer = (request) => reply(request, received().indexOf(request))
}

beforeAll(async () => {
  server = await startServer((request) => (isHang(request) ? "hang" : answer(request)))
})
afterAll(() => server.close())

const url = () => `${server.origin}/postbacks?secret=s3cret`

describe("postback test", () => {
  it("PASS on 200, with the request and the answer; the secret is not printed", async () => {
    answering(() => ({ status: 200, body: "OK" }))
    const { code, stdout } = await run(["test", url()])
    expect(code).toBe(EXIT.ok)
    expect(stdout).toContain(`POST ${server.origin}/postbacks?secret=***\n`)
    expect(stdout).toContain(
      '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.10","timestamp":"2025-03-01T10:00:00.000Z","is_loyaltyboost":"0","payload":{"user_id":"3410444","session_id":"abc123"}}'
    )
    expect(stdout).toMatch(/\nPASS: HTTP 200 in [\d.]+ ms\nresponse: OK\n$/)
    expect(stdout).not.toContain("s3cret")
    expect(received()).toHaveLength(1)
    expect(received()[0]!.url).toBe("/postbacks?secret=s3cret")
  })

  it("FAIL on any other status, with the body", async () => {
    answering(() => ({ status: 500, body: '{"error":"db down"}' }))
    const { code, stdout } = await run(["test", url(), "--method", "get"])
    expect(code).toBe(EXIT.failed)
    expect(stdout).toMatch(/FAIL: HTTP 500 in [\d.]+ ms; only 200 OK counts as delivered/)
    expect(stdout).toContain('response: {"error":"db down"}')
    expect(received()[0]!.method).toBe("GET")
    expect(received()).toHaveLength(1)
  })

  it("FAIL on a timeout", async () => {
    answering(() => ({ status: 200, body: "OK" }))
    const { code, stdout } = await run([
      "test",
      `${server.origin}${HANG_PATH}?secret=s3cret`,
      "--timeout",
      "50"
    ])
    expect(code).toBe(EXIT.failed)
    expect(stdout).toContain("FAIL: no answer: timeout after 50 ms")
  })

  it("GET to a macro template; --json", async () => {
    answering(() => ({ status: 200, body: "OK" }))
    const template = `${server.origin}/pb?amount={payout}&uid={user_id}&oid={offer_id}`
    const { code, stdout } = await run([
      "test",
      "--template",
      template,
      "--json",
      "--header",
      "Authorization: Bearer t0ken"
    ])
    expect(code).toBe(EXIT.ok)
    expect(received().map((r) => r.url)).toEqual(["/pb?amount=2.10&uid=3410444&oid=1511"])
    const result = JSON.parse(stdout)
    expect(result).toMatchObject({ pass: true, status: 200, body: "OK" })
    expect(result.request.url).toBe(`${server.origin}/pb?amount=2.10&uid=3410444&oid=1511`)
    // Sent, but not printed.
    expect(received()[0]!.headers.authorization).toBe("Bearer t0ken")
    expect(result.request.headers).toEqual({ authorization: "***" })
  })

  it("bad command lines exit with 2, name the problem and send nothing", async () => {
    answering(() => ({ status: 200 }))
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [["test", url(), "--bogus"], "unknown option --bogus"],
      [["test", url(), "--method", "put"], '--method must be post or get, got "put"'],
      [["test"], "<url> is required"],
      [["test", url(), "--template", "http://x/{payout}"], "give either <url> or --template"],
      [["test", "--template", "http://x/?a={payout}", "--method", "post"], "remove --method post"],
      [["test", "--template", "http://x/?a={pay out}"], "invalid postback URL template"],
      [
        ["test", "not a url"],
        'endpoint.url must be an absolute http or https URL, got "not a url"'
      ],
      [
        ["test", url(), "--timeout", "0"],
        '--timeout must be a whole number from 1 to 2147483647, got "0"'
      ],
      [["test", url(), "--timeout"], "--timeout needs a value"],
      [["test", url(), "--header", "nocolon"], '--header must be "Name: value"'],
      [["test", url(), "--json=yes"], "--json takes no value"],
      [["test", url(), "extra"], 'unexpected argument "extra"']
    ]
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await run(args)
      expect({ args, code }).toEqual({ args, code: EXIT.usage })
      expect(stderr).toContain(message)
      expect(stderr).toContain('Run "postback help test"')
      expect(stdout).toBe("")
    }
    expect(received()).toHaveLength(0)
  })
})

describe("postback send", () => {
  it("sends the given fields; payload names go into payload; timestamp defaults to now", async () => {
    answering(() => ({ status: 200 }))
    const { code, stdout } = await run([
      "send",
      url(),
      "offer_id=77",
      "payout=30",
      "is_loyaltyboost=1",
      "user_id=42",
      "--header",
      "X-Env: ci"
    ])
    expect(code).toBe(EXIT.ok)
    expect(JSON.parse(received()[0]!.body)).toEqual({
      offer_id: "77",
      advertiser_name: "",
      payout: "30",
      timestamp: "2025-03-01T10:00:00.000Z",
      is_loyaltyboost: "1",
      payload: { user_id: "42" }
    })
    expect(received()[0]!.headers["x-env"]).toBe("ci")
    expect(stdout).toMatch(/attempt 1 at .*: HTTP 200 in [\d.]+ ms \(delivered\)/)
    expect(stdout).toContain("DELIVERED on attempt 1")
  })

  it("retries as MomentScience does, at a time scale, and says when it gives up", async () => {
    answering(() => ({ status: 503 }))
    const { code, stdout } = await run([
      "send",
      url(),
      "--body",
      '{"offer_id":"1","payout":"1.00","payload":{"user_id":"9"}}',
      "--time-scale",
      "0.0001"
    ])
    expect(code).toBe(EXIT.failed)
    expect(received()).toHaveLength(5)
    expect(stdout.match(/^attempt \d/gm)).toHaveLength(5)
    expect(stdout).toMatch(/attempt 1 at .*: HTTP 503 in [\d.]+ ms; next attempt in 0\.0\d\d s/)
    expect(stdout).toContain("FAILED after 5 attempts")
    expect(stdout).toContain("last: HTTP 503")
  })

  it("--retry none makes one attempt; --json prints the report", async () => {
    answering(() => ({ status: 503 }))
    const { code, stdout, stderr } = await run([
      "send",
      url(),
      "offer_id=1",
      "payout=1",
      "--retry",
      "none",
      "--json"
    ])
    expect(code).toBe(EXIT.failed)
    expect(received()).toHaveLength(1)
    const report = JSON.parse(stdout)
    expect(report.delivered).toBe(false)
    expect(report.state).toMatchObject({ _tag: "failed", attempts: 1 })
    expect(report.request.url).toBe(`${server.origin}/postbacks?secret=***`)
    expect(stderr).toMatch(/^attempt 1 at /)
  })

  it("--dry-run prints the request and sends nothing; invalid fields are named", async () => {
    answering(() => ({ status: 200 }))
    const dry = await run([
      "send",
      url(),
      "offer_id=1",
      "payout=2.5",
      "--method",
      "get",
      "--dry-run"
    ])
    expect(dry.code).toBe(EXIT.ok)
    expect(dry.stdout).toBe(
      `GET ${server.origin}/postbacks?secret=***&offer_id=1&advertiser_name=&payout=2.5&timestamp=2025-03-01T10%3A00%3A00.000Z&is_loyaltyboost=0\n`
    )
    const bad = await run(["send", url(), "offer_id=1", "payout=abc"])
    expect(bad.code).toBe(EXIT.usage)
    expect(bad.stderr).toContain(
      `invalid postback: payout: expected a decimal string like "2.10", got "abc"`
    )
    const noPair = await run(["send", url(), "payout"])
    expect(noPair.stderr).toContain('fields are given as name=value, got "payout"')
    const body = await run(["send", url(), "--body", "{oops"])
    expect(body.stderr).toContain("--body is not JSON")
    expect(received()).toHaveLength(0)
  })
})

describe("postback replay", () => {
  const line = (offer: string, user: string) =>
    JSON.stringify({
      offer_id: offer,
      advertiser_name: "MomentScience",
      payout: "2.10",
      timestamp: "2025-03-01T09:00:00.000Z",
      is_loyaltyboost: "1",
      payload: { user_id: user }
    })

  it("sends every line and summarises", async () => {
    answering(() => ({ status: 200 }))
    const file = `${line("1", "a")}\n\n${line("2", "b")}\r\n${line("3", "c")}\n`
    const { code, stdout } = await run(["replay", "events.jsonl", url()], { "events.jsonl": file })
    expect(code).toBe(EXIT.ok)
    expect(
      received()
        .map((r) => JSON.parse(r.body).offer_id)
        .sort()
    ).toEqual(["1", "2", "3"])
    expect(stdout).toContain("replayed 3 postbacks from events.jsonl to POST")
    expect(stdout).toMatch(/delivered\s+3\nfailed\s+0/)
  })

  it("lists the lines that failed, and exits with 1", async () => {
    answering((request) =>
      JSON.parse(request.body).offer_id === "2" ? { status: 500 } : { status: 200 }
    )
    const file = [line("1", "a"), line("2", "b"), line("3", "c")].join("\n")
    const { code, stdout } = await run(
      ["replay", "events.jsonl", url(), "--retry", "none", "--concurrency", "1"],
      { "events.jsonl": file }
    )
    expect(code).toBe(EXIT.failed)
    expect(stdout).toMatch(/delivered\s+2\nfailed\s+1\n {2}line 2: FAILED after 1 attempt/)
  })

  it("checks every line first: a bad file sends nothing", async () => {
    answering(() => ({ status: 200 }))
    const file = [
      line("1", "a"),
      "{not json",
      line("", "b"),
      '{"offer_id":"4","payout":"-1"}'
    ].join("\n")
    const { code, stderr } = await run(["replay", "bad.jsonl", url()], { "bad.jsonl": file })
    expect(code).toBe(EXIT.usage)
    expect(stderr).toContain("bad.jsonl has 3 invalid lines; nothing was sent")
    expect(stderr).toMatch(/line 2: not JSON/)
    expect(stderr).toContain("line 3: offer_id: must not be empty")
    expect(stderr).toMatch(/line 4: .*payout/)
    const missing = await run(["replay", "nope.jsonl", url()])
    expect(missing.code).toBe(EXIT.usage)
    expect(missing.stderr).toContain("cannot read nope.jsonl")
    expect(received()).toHaveLength(0)
  })
})

describe("postback load", () => {
  it("prints the summary; exit 0 when every answer is 200", async () => {
    answering(() => ({ status: 200 }))
    const { code, stdout } = await run([
      "load",
      url(),
      "--rate",
      "200",
      "--duration",
      "0.5",
      "--duplicates",
      "10%",
      "--concurrency",
      "20"
    ])
    expect(code).toBe(EXIT.ok)
    expect(received()).toHaveLength(100)
    expect(stdout).toMatch(/^sent\s+100\s+\(90 distinct, 10 duplicates\)$/m)
    expect(stdout).toMatch(/^200\s+100$/m)
    expect(stdout).toMatch(/^non-200\s+0$/m)
    expect(stdout).toMatch(/^errors\s+0\s/m)
    expect(stdout).toMatch(/^latency ms min [\d.]+ {2}p50 [\d.]+ {2}p90 .* p99\.9 [\d.]+ {2}max/m)
    expect(stdout).not.toContain("s3cret")
  })

  it("exit 1 when some answers are not 200, with the statuses; --json", async () => {
    answering((_, i) => (i % 4 === 0 ? { status: 503 } : { status: 200 }))
    const { code, stdout } = await run([
      "load",
      url(),
      "--rate",
      "400",
      "--duration",
      "0.1",
      "--json",
      "--method",
      "get"
    ])
    expect(code).toBe(EXIT.failed)
    const summary = JSON.parse(stdout)
    expect(summary).toMatchObject({ sent: 40, ok: 30, non200: 10, statuses: { "503": 10 } })
  })

  it("refuses bad values, naming the flag", async () => {
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [["load", url(), "--duration", "1"], "--rate <requests per second> is required"],
      [["load", url(), "--rate", "10"], "--duration <seconds> is required"],
      [["load", url(), "--rate", "ten", "--duration", "1"], "--rate must be a number above 0"],
      [
        ["load", url(), "--rate", "10", "--duration", "1", "--duplicates", "1"],
        "--duplicates must be a share from 0 to below 1"
      ],
      [
        ["load", url(), "--rate", "10", "--duration", "1", "--concurrency", "1.5"],
        "--concurrency must be a whole number"
      ],
      [["load", url(), "--rate", "0.1", "--duration", "1"], "must plan from 1 to"],
      [["load", url(), "--rate", "10", "--rate", "20", "--duration", "1"], "--rate is given twice"]
    ]
    for (const [args, message] of cases) {
      const { code, stderr } = await run(args)
      expect({ args, code }).toEqual({ args, code: EXIT.usage })
      expect(stderr).toContain(message)
    }
  })
})

describe("help", () => {
  it("prints usage; without a command it is an error", async () => {
    const help = await run(["help", "load"])
    expect(help.code).toBe(EXIT.ok)
    expect(help.stdout).toContain("--rate <n>")
    const flag = await run(["replay", "--help"])
    expect(flag.code).toBe(EXIT.ok)
    expect(flag.stdout).toContain("postback replay <file.jsonl> <url>")
    const none = await run([])
    expect(none.code).toBe(EXIT.usage)
    expect(none.stderr).toContain("Usage:")
    const unknown = await run(["deliver"])
    expect(unknown.code).toBe(EXIT.usage)
    expect(unknown.stderr).toContain('unknown command "deliver"')
  })
})

// Each test starts Node processes (the CLI with tsx): on a busy machine one
// start alone can take seconds, so these tests get room; they assert no time.
describe("the Node entry point", { timeout: 180_000 }, () => {
  const bin = fileURLToPath(new URL("../bin/postback.js", import.meta.url))
  const node = (args: ReadonlyArray<string>, imports: ReadonlyArray<string> = []) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // The sources through tsx, so that no build is needed.
      execFile(
        process.execPath,
        [
          "--conditions=@org/source",
          "--import",
          "tsx",
          ...imports.flatMap((module) => ["--import", module]),
          bin,
          ...args
        ],
        { timeout: 20_000 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr })
      )
    })

  it("runs a command and exits with its code", async () => {
    answering(() => ({ status: 200 }))
    const pass = await node(["test", url()])
    expect(pass.stdout).toContain("PASS: HTTP 200")
    expect(pass.code).toBe(0)
    answering(() => ({ status: 503 }))
    const fail = await node(["test", url()])
    expect(fail.stdout).toContain("FAIL: HTTP 503")
    expect(fail.code).toBe(1)
    const usage = await node(["load", url(), "--rate", "x"])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain("--rate must be a number")
  })

  it("without effect, it says to install it and exits with 70", async () => {
    const withoutEffect = new URL("./support/withoutEffect.ts", import.meta.url).href
    const { code, stdout, stderr } = await node(["help", "test"], [withoutEffect])
    expect(code).toBe(70)
    expect(stdout).toBe("")
    expect(stderr).toMatch(/^postback: cannot load the package \(.*'effect'.*\);\n/)
    expect(stderr).toContain(
      "it needs effect ~4.1 (a peer dependency), which is not installed; install it: npm install effect@~4.1\n"
    )
    expect(stderr).not.toContain("build it first")
  })
})
