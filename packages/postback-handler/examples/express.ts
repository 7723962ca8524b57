// Express 5: mount the handler with app.all, before any body parser.
import { createServer } from "node:http"
import { postbackExpress } from "@org/postback-handler/express"
import express from "express"

const app = express()

app.all(
  "/postbacks",
  postbackExpress({
    secret: process.env.POSTBACK_SECRET!,
    onPostback: async ({ identity, postback, status }) => {
      // Store it here (see examples/postgres.ts): the 200 is sent once this resolves.
      console.log(status, identity, postback.offerId, postback.payout.toString())
    }
  })
)

// Body parsers for the rest of the app come after the postback route.
app.use(express.json())

// Node refuses request headers past 16 KB by default: a GET postback carries
// its payload in the URL, so allow more.
export const server = createServer({ maxHeaderSize: 65_536 }, app).listen(
  Number(process.env.PORT ?? 3000)
)
