/**
 * An example consumer of the receiver's forwarded events: the publisher's
 * wallet. It verifies each request's Standard Webhooks signature with the
 * same `standardwebhooks` library the receiver signs with, and credits a
 * `postback.credited` event's points once per `webhook-id` (the receiver
 * delivers at least once: a retry, a replay or a redelivery after a crash
 * carries the same id).
 *
 * Run it: `WALLET_SECRET=whsec_... PORT=4000 npx tsx examples/wallet-consumer.ts`,
 * then add `http://127.0.0.1:4000/events` as a destination with that secret.
 *
 * The ledger here is in memory to keep the example short; a real wallet
 * writes `webhook-id` with a unique key in the same transaction as the
 * credit (`INSERT ... ON CONFLICT (webhook_id) DO NOTHING`), which is the
 * same rule made durable.
 */
import { createServer, type IncomingMessage, type Server } from "node:http"
import { pathToFileURL } from "node:url"
import { Webhook, WebhookVerificationError } from "standardwebhooks"

/** The part of a forwarded event the wallet reads (see the README's "Forwarding"). */
interface ForwardedEvent {
  readonly type: string
  readonly data: {
    readonly postbackId: number
    readonly userId: string | null
    /** Points as a decimal string: exact, never a float. */
    readonly points: string
  }
}

/** The wallet's state: balances (points, bigint) and the `webhook-id`s already applied. */
export interface Wallet {
  readonly balances: Map<string, bigint>
  readonly applied: Set<string>
}

/**
 * Handles one request: 401 when the signature does not verify (or is older
 * than five minutes: the library's replay window), 200 otherwise; credits
 * the points of a `postback.credited` event whose `webhook-id` is new.
 */
export const handleEvent = (
  webhook: Webhook,
  wallet: Wallet,
  body: string,
  headers: Record<string, string>
): { readonly status: number; readonly credited: boolean } => {
  let event: ForwardedEvent
  try {
    event = webhook.verify(body, headers) as ForwardedEvent
  } catch (error) {
    if (error instanceof WebhookVerificationError) return { status: 401, credited: false }
    throw error
  }
  const id = headers["webhook-id"]!
  if (wallet.applied.has(id)) return { status: 200, credited: false }
  wallet.applied.add(id)
  if (event.type !== "postback.credited" || event.data.userId === null) {
    return { status: 200, credited: false }
  }
  const user = event.data.userId
  wallet.balances.set(user, (wallet.balances.get(user) ?? 0n) + BigInt(event.data.points))
  return { status: 200, credited: true }
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((done, fail) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => done(Buffer.concat(chunks).toString("utf8")))
    request.on("error", fail)
  })

/** The wallet as an HTTP server (`POST` any path); listen on it yourself. */
export const walletServer = (secret: string, wallet: Wallet): Server => {
  const webhook = new Webhook(secret)
  return createServer(async (request, response) => {
    const body = await readBody(request)
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, String(value)])
    )
    const { status } = handleEvent(webhook, wallet, body, headers)
    response
      .writeHead(status, { "content-type": "text/plain" })
      .end(status === 200 ? "ok" : "bad signature")
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const secret = process.env.WALLET_SECRET
  if (secret === undefined) throw new Error("WALLET_SECRET must be the destination's whsec_ secret")
  const wallet: Wallet = { balances: new Map(), applied: new Set() }
  const port = Number(process.env.PORT ?? 4000)
  walletServer(secret, wallet).listen(port, () => {
    console.log(`Wallet consumer on http://127.0.0.1:${port}/events`)
  })
}
