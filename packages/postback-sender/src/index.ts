/**
 * A MomentScience postback sender emulator: deliver a postback to an
 * endpoint as MomentScience does (POST JSON, GET query or GET `{macro}`
 * template), with its retry policy (in real time, scaled, or under Effect's
 * `TestClock`), per-attempt timeouts and a delivery report; a sample
 * postback like the dashboard's "Test endpoint" button; a load generator;
 * and the `postback` command line (`runCli`).
 *
 * @example
 * import { deliver, samplePostback } from "@org/postback-sender"
 *
 * const report = await deliver(samplePostback(), {
 *   method: "POST",
 *   url: "https://pub.example/postbacks?secret=s3cret"
 * })
 * report.delivered // true once an attempt got 200 OK
 *
 * @module
 */
export * from "./Cli.ts"
export * from "./DeliveryReport.ts"
export * from "./Endpoint.ts"
export * from "./Latency.ts"
export * from "./Load.ts"
export * from "./SamplePostback.ts"
export * from "./Sender.ts"
