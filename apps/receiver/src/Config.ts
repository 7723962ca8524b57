import { SECRET_PATTERN } from "@org/postback-handler"
import { type RetryPolicy, retryPolicy } from "@org/postback-retry"
import { Decimal } from "@org/postback-schema"
import {
  Config,
  ConfigProvider,
  Context,
  DateTime,
  Duration,
  Effect,
  Layer,
  Option,
  Redacted,
  Schema,
  SchemaIssue
} from "effect"

/**
 * A start-up error about one variable, reported like the errors of `Config`
 * itself: the message, then the variable it is about.
 */
export const invalidSetting = (name: string, message: string): Config.ConfigError =>
  new Config.ConfigError(
    new Schema.SchemaError(
      new SchemaIssue.Pointer([name], new SchemaIssue.InvalidValue({ message }))
    )
  )

/** A check that fails with `message` (which names the variable) when `valid` is false. */
const rule = <A>(valid: (value: A) => boolean, message: string) =>
  Schema.makeFilter<A>((value) => valid(value) || message)

/** A non-negative decimal read from the environment, with an error naming the variable. */
const decimal = (name: string) =>
  Config.String(name).pipe(
    Config.mapEffect((text) => {
      const value = Decimal.fromString(text.trim())
      return value === undefined || value.isNegative()
        ? Effect.fail(
            invalidSetting(
              name,
              `${name} must be a non-negative decimal like "10", got ${JSON.stringify(text)}`
            )
          )
        : Effect.succeed(value)
    })
  )

const positiveInt = (name: string, fallback: number) =>
  Config.schema(
    Schema.Int.check(rule((n) => n > 0, `${name} must be a positive integer`)),
    name
  ).pipe(Config.withDefault(fallback))

const nonNegativeInt = (name: string, fallback: number) =>
  Config.schema(
    Schema.Int.check(rule((n) => n >= 0, `${name} must be zero or a positive integer`)),
    name
  ).pipe(Config.withDefault(fallback))

const payloadKey = (name: string) =>
  Config.schema(
    Schema.String.check(
      rule(
        (key) => /^[A-Za-z0-9_]+$/.test(key),
        `${name} must be a payload key made of letters, digits and underscores`
      )
    ),
    name
  )

/**
 * A secret of at least 16 characters, each one that means the same in every
 * part of a URL (RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~`): a `+`, `/`,
 * `=`, `&`, `#`, `%` or space would be read differently by a sender or a
 * proxy and every request would be refused. It stays `Redacted`.
 */
const secret = (name: string) =>
  Config.schema(
    Schema.Redacted(Schema.String)
      .check(
        rule(
          (value) => Redacted.value(value).length >= 16,
          `${name} must be at least 16 characters`
        )
      )
      .check(
        rule(
          (value) => SECRET_PATTERN.test(Redacted.value(value)),
          `${name} may hold only A-Z a-z 0-9 - . _ ~ (characters such as + / = & # % or a space change meaning in a URL)`
        )
      ),
    name
  )

/**
 * A PostgreSQL URL (`postgres://` or `postgresql://`, several `host:port`
 * pairs allowed as postgres.js reads them), checked here so that a typo is a
 * start-up error naming the variable rather than the driver's `TypeError`.
 * The message never repeats the value: it may hold a password.
 */
const databaseUrl = (name: string) =>
  Config.Redacted(name).pipe(
    Config.mapEffect((url) => {
      const text = Redacted.value(url).trim()
      const scheme = /^postgres(?:ql)?:\/\//i.exec(text)
      let valid = scheme !== null
      if (scheme !== null) {
        // postgres.js parses only the first of several comma-separated hosts with `URL`.
        const rest = text.slice(scheme[0].length)
        const authority = rest.split(/[/?#]/, 1)[0] ?? ""
        const at = authority.lastIndexOf("@")
        const hosts = authority.slice(at + 1)
        const first = `${scheme[0]}${authority.slice(0, at + 1)}${hosts.split(",")[0]}${rest.slice(authority.length)}`
        valid = URL.canParse(first)
      }
      return valid
        ? Effect.succeed(Redacted.make(text))
        : Effect.fail(
            invalidSetting(
              name,
              `${name} must be a PostgreSQL URL such as postgres://user:password@host:5432/database (the value is not shown: it may hold a password)`
            )
          )
    })
  )

/**
 * The default retry policy of forwarded events, the schedule of the best
 * webhook senders (Svix's, as the Standard Webhooks authors run it): at
 * once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure,
 * eight attempts over about 27 h 35 min; any 2xx is a success.
 */
export const STANDARD_WEBHOOKS_RETRY: RetryPolicy = retryPolicy({
  delaysSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000]
})

/**
 * Every setting of the receiver, read once from the environment. A bad value
 * fails start-up with a message naming the variable. Secrets stay `Redacted`
 * until they are used.
 */
export const receiverConfig = Config.all({
  /** 0 picks a free port (tests). */
  port: Config.schema(
    Schema.Int.check(rule((n) => n >= 0 && n <= 65535, "PORT must be a port number (0-65535)")),
    "PORT"
  ).pipe(Config.withDefault(3000)),
  host: Config.String("HOST").pipe(Config.withDefault("0.0.0.0")),
  /** Used to print the URL to paste into the MomentScience dashboard. */
  publicUrl: Config.URL("PUBLIC_URL").pipe(Config.option),
  databaseUrl: databaseUrl("DATABASE_URL").pipe(Config.option),
  databasePoolSize: positiveInt("DATABASE_POOL_SIZE", 10),
  /** Longest a statement (or a worker transaction) may take before it counts as failed. */
  databaseTimeoutMs: positiveInt("DATABASE_TIMEOUT_MS", 5_000),
  dataDir: Config.String("RECEIVER_DATA_DIR").pipe(Config.withDefault("./.data")),
  postbackSecret: secret("POSTBACK_SECRET").pipe(Config.option),
  secretParam: Config.schema(
    Schema.String.check(
      rule(
        (name) => /^[A-Za-z0-9_-]+$/.test(name),
        "POSTBACK_SECRET_PARAM must be a query parameter name (letters, digits, _ and -)"
      )
    ),
    "POSTBACK_SECRET_PARAM"
  ).pipe(Config.withDefault("secret")),
  template: Config.String("POSTBACK_TEMPLATE").pipe(Config.option),
  /** `is_loyaltyboost` of a postback that does not say (a template without `{is_loyaltyboost}`). */
  defaultLoyaltyBoost: Config.Boolean("POSTBACK_DEFAULT_LOYALTYBOOST").pipe(
    Config.withDefault(false)
  ),
  /** How far ahead of its receipt a conversion time may be before the postback is held. */
  maxFutureSkewMs: nonNegativeInt("POSTBACK_MAX_FUTURE_SKEW_MS", 300_000),
  userIdKey: payloadKey("USER_ID_KEY").pipe(Config.withDefault("user_id")),
  dedupKey: payloadKey("POSTBACK_DEDUP_KEY").pipe(Config.option),
  pointsPerUsd: decimal("POINTS_PER_USD").pipe(Config.withDefault(Decimal.parse("10"))),
  rewardRulesFile: Config.String("REWARD_RULES_FILE").pipe(Config.option),
  adminToken: secret("ADMIN_TOKEN").pipe(Config.option),
  /** Bearer token of `GET /metrics` for a scraper (the admin token works there too). */
  metricsToken: secret("METRICS_TOKEN").pipe(Config.option),
  maxBodyBytes: positiveInt("MAX_BODY_BYTES", 64 * 1024),
  /** Largest query string (a GET carries its payload there); the header limit is twice this. */
  maxQueryBytes: positiveInt("MAX_QUERY_BYTES", 32 * 1024),
  holdPayoutAbove: decimal("PAYOUT_HOLD_ABOVE").pipe(Config.withDefault(Decimal.parse("1000"))),
  ingestBatchSize: positiveInt("INGEST_BATCH_SIZE", 500),
  ingestMaxInFlight: positiveInt("INGEST_MAX_INFLIGHT", 2),
  ingestBatchWait: nonNegativeInt("INGEST_BATCH_WAIT_MS", 0).pipe(Config.map(Duration.millis)),
  /**
   * Requests that may wait for an ingest batch; past it they get 503 at once.
   * Default INGEST_BATCH_SIZE × INGEST_MAX_INFLIGHT (one round of batches).
   */
  ingestMaxQueue: Config.schema(
    Schema.Int.check(rule((n) => n > 0, "INGEST_MAX_QUEUE must be a positive integer")),
    "INGEST_MAX_QUEUE"
  ).pipe(Config.option, Config.map(Option.getOrUndefined)),
  workerEnabled: Config.Boolean("WORKER_ENABLED").pipe(Config.withDefault(true)),
  workerBatchSize: positiveInt("WORKER_BATCH_SIZE", 200),
  workerPollInterval: positiveInt("WORKER_POLL_MS", 1000).pipe(Config.map(Duration.millis)),
  /**
   * After a batch shorter than WORKER_BATCH_SIZE, the least time from its
   * start to the next batch's, so that postbacks arriving under load gather
   * into fuller batches (0: every notification starts a batch).
   */
  workerBatchWait: nonNegativeInt("WORKER_BATCH_WAIT_MS", 250).pipe(Config.map(Duration.millis)),
  workerMaxAttempts: positiveInt("WORKER_MAX_ATTEMPTS", 10),
  /** First retry delay after a processing failure; doubles up to the cap, with full jitter. */
  workerRetryBase: positiveInt("WORKER_RETRY_BASE_MS", 5_000).pipe(Config.map(Duration.millis)),
  workerRetryCap: positiveInt("WORKER_RETRY_CAP_MS", 600_000).pipe(Config.map(Duration.millis)),
  workerLease: positiveInt("WORKER_LEASE_SECONDS", 60).pipe(Config.map(Duration.seconds)),
  shutdownGrace: positiveInt("SHUTDOWN_GRACE_MS", 10_000).pipe(Config.map(Duration.millis)),
  /** The console's time zone (an IANA name): presets and series buckets are its days and hours. */
  consoleTimeZone: Config.schema(
    Schema.String.check(
      rule(
        (name) => DateTime.zoneMakeNamed(name)._tag === "Some",
        'CONSOLE_TIME_ZONE must be an IANA time zone name such as "UTC" or "America/New_York"'
      )
    ),
    "CONSOLE_TIME_ZONE"
  ).pipe(Config.withDefault("UTC")),
  /** Days the delivery log keeps a delivery (older rows are deleted in small batches). */
  deliveryLogRetentionDays: positiveInt("DELIVERY_LOG_RETENTION_DAYS", 30),
  // Forwarding (src/Forward/).
  /** A JSON file of destinations, `[{ "url", "secret", "events" }]`, checked at start. */
  forwardDestinationsFile: Config.String("FORWARD_DESTINATIONS_FILE").pipe(Config.option),
  /** How long a destination has to answer one event; past it the attempt failed. */
  forwardTimeout: positiveInt("FORWARD_TIMEOUT_MS", 15_000).pipe(Config.map(Duration.millis)),
  /** The retry policy of forwarded events (`FORWARD_RETRY_SCHEDULE`, seconds after each failure). */
  forwardRetryPolicy: Config.String("FORWARD_RETRY_SCHEDULE").pipe(
    Config.mapEffect((text) => {
      const parts = text.split(",").map((part) => part.trim())
      const delays = parts.map(Number)
      const bad = parts.findIndex(
        (part, i) => part === "" || !Number.isFinite(delays[i]) || delays[i]! < 0
      )
      if (parts.length === 0 || bad >= 0) {
        return Effect.fail(
          invalidSetting(
            "FORWARD_RETRY_SCHEDULE",
            `FORWARD_RETRY_SCHEDULE must be seconds to wait after each failed attempt, comma-separated ("5,300,1800"); item ${bad + 1} is ${JSON.stringify(parts[bad])}`
          )
        )
      }
      try {
        return Effect.succeed(retryPolicy({ delaysSeconds: delays }))
      } catch (error) {
        return Effect.fail(
          invalidSetting("FORWARD_RETRY_SCHEDULE", `FORWARD_RETRY_SCHEDULE: ${String(error)}`)
        )
      }
    }),
    Config.withDefault(STANDARD_WEBHOOKS_RETRY)
  ),
  /** A destination failing without a success for this long is disabled. */
  forwardDisableAfter: positiveInt("FORWARD_DISABLE_AFTER_HOURS", 120).pipe(
    Config.map(Duration.hours)
  ),
  /** Events each destination's claim takes at once. */
  forwardBatchSize: positiveInt("FORWARD_BATCH_SIZE", 100),
  forwardEnabled: Config.Boolean("FORWARD_ENABLED").pipe(Config.withDefault(true)),
  // The spool (src/Spool/): off unless SPOOL_DIR is set.
  /** The folder of the local journal that takes postbacks while PostgreSQL is away. */
  spoolDir: Config.String("SPOOL_DIR").pipe(Config.option),
  /** Bytes the journal may hold; past it postbacks are answered 503 again. */
  spoolMaxBytes: positiveInt("SPOOL_MAX_BYTES", 256 * 1024 * 1024),
  /** Age of the oldest spooled postback past which new ones are answered 503. */
  spoolMaxAge: positiveInt("SPOOL_MAX_AGE_HOURS", 72).pipe(Config.map(Duration.hours)),
  /** A journal segment takes appends up to this many bytes, then the next one starts. */
  spoolSegmentBytes: positiveInt("SPOOL_SEGMENT_BYTES", 8 * 1024 * 1024),
  /** How often the database is asked whether it is back while postbacks go to the spool. */
  spoolProbeInterval: positiveInt("SPOOL_PROBE_MS", 1_000).pipe(Config.map(Duration.millis))
}).pipe(
  // Checked with the settings, before anything is opened: the embedded
  // database would otherwise be created (seconds, hundreds of MB) only to be
  // refused.
  Config.flatMap((settings) =>
    Option.isSome(settings.spoolDir) && Option.isNone(settings.databaseUrl)
      ? Config.fail(
          new Schema.SchemaError(
            new SchemaIssue.Pointer(
              ["SPOOL_DIR"],
              new SchemaIssue.InvalidValue({
                message:
                  "SPOOL_DIR needs DATABASE_URL: the spool outlives PostgreSQL outages, and the embedded database (PGlite) runs inside the receiver, with no outage of its own; unset SPOOL_DIR"
              })
            )
          )
        )
      : Config.succeed(settings)
  )
)

export type ReceiverSettings = Config.Success<typeof receiverConfig>

/** The receiver's settings as a service, so tests can provide their own. */
export class ReceiverConfig extends Context.Service<ReceiverConfig, ReceiverSettings>()(
  "@org/receiver/ReceiverConfig"
) {
  /** Reads the environment (through the current `ConfigProvider`). */
  static readonly layer: Layer.Layer<ReceiverConfig, Config.ConfigError> = Layer.effect(
    ReceiverConfig,
    receiverConfig
  )

  /** Settings from a plain record, defaults filling the rest (tests, embedding). */
  static readonly fromRecord = (
    values: Record<string, string>
  ): Layer.Layer<ReceiverConfig, Config.ConfigError> =>
    Layer.effect(ReceiverConfig, receiverConfig.parse(ConfigProvider.fromEnvRecord(values)))
}
