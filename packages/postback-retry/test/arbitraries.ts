import * as fc from "fast-check"
import {
  ANY_2XX,
  EXACTLY_200,
  type Jitter,
  Outcome,
  type RetryPolicy,
  retryPolicy
} from "../src/index.ts"

/** Delays in seconds: whole seconds mostly, some fractions, some zeros. */
const delaySeconds: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 3600 }),
  fc.integer({ min: 0, max: 600_000 }).map((ms) => ms / 1000),
  fc.constant(0)
)

/** Policies of every shape the model supports, built through the validating constructor. */
export const policy = (
  options: { readonly jitter?: ReadonlyArray<Jitter>; readonly maxAttempts?: number } = {}
): fc.Arbitrary<RetryPolicy> =>
  fc
    .integer({ min: 1, max: options.maxAttempts ?? 8 })
    .chain((maxAttempts) =>
      fc.record({
        delaysSeconds: fc.array(delaySeconds, {
          minLength: maxAttempts - 1,
          maxLength: maxAttempts - 1
        }),
        capSeconds: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
        jitter: fc.constantFrom(...(options.jitter ?? (["none", "full"] as const))),
        successStatuses: fc.constantFrom(EXACTLY_200, ANY_2XX)
      })
    )
    .map(({ capSeconds, ...rest }) =>
      retryPolicy(capSeconds === undefined ? rest : { ...rest, capSeconds })
    )

/** Outcomes, with 2xx statuses common enough that successes happen. */
export const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constantFrom(200, 201, 204, 301, 400, 404, 410, 429, 500, 502, 503).map(Outcome.response),
  fc.integer({ min: 100, max: 599 }).map(Outcome.response),
  fc.constant(Outcome.timeout()),
  fc.constantFrom(undefined, "ECONNREFUSED", "ECONNRESET").map(Outcome.connectionError)
)

/** One outcome per possible attempt (8 is the most the policy arbitrary allows). */
export const outcomes: fc.Arbitrary<Array<Outcome>> = fc.array(outcome, {
  minLength: 8,
  maxLength: 8
})

/** How long each attempt takes before its outcome is observed, in milliseconds. */
export const latencies: fc.Arbitrary<Array<number>> = fc.array(
  fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30_000 })),
  { minLength: 8, maxLength: 8 }
)
