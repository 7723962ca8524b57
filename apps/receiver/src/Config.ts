import { Decimal } from "@org/postback-schema"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Redacted
} from "effect"

/** A positive decimal read from the environment, with an error naming the variable. */
const decimal = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const value = Decimal.fromString(text.trim())
      return value === undefined || value.isNegative()
        ? Either.left(
            ConfigError.InvalidData(
              [],
              `expected a non-negative decimal like "10", got ${JSON.stringify(text)}`
            )
          )
        : Either.right(value)
    })
  )

const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 })
  )

const nonNegativeInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.withDefault(fallback),
    Config.validate({
      message: `${name} must be zero or a positive integer`,
      validation: (n) => n >= 0
    })
  )

const payloadKey = (name: string) =>
  Config.string(name).pipe(
    Config.validate({
      message: `${name} must be a payload key made of letters, digits and underscores`,
      validation: (key) => /^[A-Za-z0-9_]+$/.test(key)
    })
  )

/**
 * Every setting of the receiver, read once from the environment. A bad value
 * fails start-up with a message naming the variable. Secrets stay `Redacted`
 * until they are used.
 */
export const receiverConfig = Config.all({
  /** 0 picks a free port (tests). */
  port: Config.integer("PORT").pipe(
    Config.withDefault(3000),
    Config.validate({
      message: "PORT must be a port number (0-65535)",
      validation: (n) => n >= 0 && n <= 65535
    })
  ),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  /** Used to print the URL to paste into the MomentScience dashboard. */
  publicUrl: Config.url("PUBLIC_URL").pipe(Config.option),
  databaseUrl: Config.redacted("DATABASE_URL").pipe(Config.option),
  databasePoolSize: positiveInt("DATABASE_POOL_SIZE", 10),
  /** Longest a statement (or a worker transaction) may take before it counts as failed. */
  databaseTimeoutMs: positiveInt("DATABASE_TIMEOUT_MS", 5_000),
  dataDir: Config.string("RECEIVER_DATA_DIR").pipe(Config.withDefault("./.data")),
  postbackSecret: Config.redacted("POSTBACK_SECRET").pipe(
    Config.validate({
      message: "POSTBACK_SECRET must be at least 16 characters",
      validation: (secret) => Redacted.value(secret).length >= 16
    }),
    Config.option
  ),
  secretParam: Config.string("POSTBACK_SECRET_PARAM").pipe(
    Config.withDefault("secret"),
    Config.validate({
      message: "POSTBACK_SECRET_PARAM must be a query parameter name (letters, digits, _ and -)",
      validation: (name) => /^[A-Za-z0-9_-]+$/.test(name)
    })
  ),
  template: Config.string("POSTBACK_TEMPLATE").pipe(Config.option),
  userIdKey: payloadKey("USER_ID_KEY").pipe(Config.withDefault("user_id")),
  dedupKey: payloadKey("POSTBACK_DEDUP_KEY").pipe(Config.option),
  pointsPerUsd: decimal("POINTS_PER_USD").pipe(Config.withDefault(Decimal.parse("10"))),
  rewardRulesFile: Config.string("REWARD_RULES_FILE").pipe(Config.option),
  adminToken: Config.redacted("ADMIN_TOKEN").pipe(
    Config.validate({
      message: "ADMIN_TOKEN must be at least 16 characters",
      validation: (token) => Redacted.value(token).length >= 16
    }),
    Config.option
  ),
  maxBodyBytes: positiveInt("MAX_BODY_BYTES", 64 * 1024),
  holdPayoutAbove: decimal("PAYOUT_HOLD_ABOVE").pipe(Config.withDefault(Decimal.parse("1000"))),
  ingestBatchSize: positiveInt("INGEST_BATCH_SIZE", 500),
  ingestMaxInFlight: positiveInt("INGEST_MAX_INFLIGHT", 2),
  ingestBatchWait: nonNegativeInt("INGEST_BATCH_WAIT_MS", 0).pipe(Config.map(Duration.millis)),
  workerEnabled: Config.boolean("WORKER_ENABLED").pipe(Config.withDefault(true)),
  workerBatchSize: positiveInt("WORKER_BATCH_SIZE", 200),
  workerPollInterval: positiveInt("WORKER_POLL_MS", 1000).pipe(Config.map(Duration.millis)),
  workerMaxAttempts: positiveInt("WORKER_MAX_ATTEMPTS", 10),
  /** First retry delay after a processing failure; doubles up to the cap, with full jitter. */
  workerRetryBase: positiveInt("WORKER_RETRY_BASE_MS", 5_000).pipe(Config.map(Duration.millis)),
  workerRetryCap: positiveInt("WORKER_RETRY_CAP_MS", 600_000).pipe(Config.map(Duration.millis)),
  workerLease: positiveInt("WORKER_LEASE_SECONDS", 60).pipe(Config.map(Duration.seconds)),
  shutdownGrace: positiveInt("SHUTDOWN_GRACE_MS", 10_000).pipe(Config.map(Duration.millis))
})

export type ReceiverSettings = Config.Config.Success<typeof receiverConfig>

/** The receiver's settings as a service, so tests can provide their own. */
export class ReceiverConfig extends Context.Tag("@org/receiver/ReceiverConfig")<
  ReceiverConfig,
  ReceiverSettings
>() {
  /** Reads the environment (through the current `ConfigProvider`). */
  static readonly layer: Layer.Layer<ReceiverConfig, ConfigError.ConfigError> = Layer.effect(
    ReceiverConfig,
    receiverConfig
  )

  /** Settings from a plain record, defaults filling the rest (tests, embedding). */
  static readonly fromRecord = (
    values: Record<string, string>
  ): Layer.Layer<ReceiverConfig, ConfigError.ConfigError> =>
    Layer.effect(
      ReceiverConfig,
      Effect.withConfigProvider(
        receiverConfig,
        ConfigProvider.fromMap(new Map(Object.entries(values)))
      )
    )
}
