import { Schema } from "effect"
import { RECONCILIATION_CATEGORIES } from "../Db/schema.ts"

/**
 * The HTTP shapes of the reconciliations API (`/api/reconciliations`),
 * declared apart from `src/Api.ts` so that the report's code and its
 * contract change together; `src/Api.ts` assembles them into the group.
 */

/** One of `RECONCILIATION_CATEGORIES`. */
export const Category = Schema.Literals(RECONCILIATION_CATEGORIES)

/** Count and payout sum (USD, exact decimal text) of a category. */
export const CategoryTotalSchema = Schema.Struct({
  count: Schema.Number,
  payout: Schema.String
}).annotate({ identifier: "ReconciliationCategoryTotal" })

/** A reconciliation's summary (see `ReconciliationSummary` in Reconcile.ts). */
export const SummarySchema = Schema.Struct({
  id: Schema.Number,
  source: Schema.String,
  createdAt: Schema.String,
  from: Schema.NullOr(Schema.String),
  to: Schema.NullOr(Schema.String),
  precision: Schema.NullOr(Schema.Literals(["millisecond", "second", "minute"])),
  toleranceMs: Schema.Number,
  exportRows: Schema.Number,
  outsideRange: Schema.Number,
  categories: Schema.Record(Schema.String, CategoryTotalSchema),
  responseCodeMismatches: Schema.Number,
  recoverable: Schema.Number,
  alarming: Schema.Boolean
}).annotate({ identifier: "ReconciliationSummary" })

/** A report row (see `ReportRow` in Report.ts). */
export const ReportRowSchema = Schema.Struct({
  id: Schema.Number,
  category: Category,
  line: Schema.NullOr(Schema.Number),
  occurredAt: Schema.NullOr(Schema.String),
  offerId: Schema.NullOr(Schema.String),
  advertiserName: Schema.NullOr(Schema.String),
  payout: Schema.NullOr(Schema.String),
  deliveryStatus: Schema.NullOr(Schema.String),
  responseCode: Schema.NullOr(Schema.Number),
  userId: Schema.NullOr(Schema.String),
  postbackId: Schema.NullOr(Schema.Number),
  status: Schema.NullOr(Schema.String),
  points: Schema.NullOr(Schema.String),
  mismatch: Schema.NullOr(Schema.String),
  problem: Schema.NullOr(Schema.String),
  extra: Schema.NullOr(Schema.Record(Schema.String, Schema.String))
}).annotate({ identifier: "ReconciliationRow" })

/** `GET /api/reconciliations/:id`: the summary and one keyset page of rows. */
export const ReportSchema = Schema.Struct({
  summary: SummarySchema,
  rows: Schema.Array(ReportRowSchema),
  /** Pass as `after` for the next page; null on the last. */
  nextAfter: Schema.NullOr(Schema.Number)
}).annotate({ identifier: "ReconciliationReport" })

/** `GET /api/reconciliations`: the latest reports, newest first. */
export const ReportListSchema = Schema.Struct({
  items: Schema.Array(SummarySchema),
  /** Pass as `before` for the next page; null on the last. */
  nextBefore: Schema.NullOr(Schema.Number)
}).annotate({ identifier: "ReconciliationList" })

/** `POST /api/reconciliations/:id/reingest`: what the re-ingest did. */
export const ReingestSchema = Schema.Struct({
  sent: Schema.Number,
  stored: Schema.Number,
  duplicates: Schema.Number,
  failed: Schema.Array(
    Schema.Struct({ line: Schema.NullOr(Schema.Number), message: Schema.String })
  ),
  summary: SummarySchema
}).annotate({ identifier: "ReingestResult" })

const PositiveInt = Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThan(0))

/** The path parameter `:id`. */
export const ReconciliationId = PositiveInt

/**
 * The upload's options, as query parameters (the body is the export):
 * `source` (a name, default `upload`), `from`/`to` (ISO 8601),
 * `tolerance` (ms, 0 to 86,400,000), `timeZone` (IANA), `columns`
 * (`field=Label,...`; the fields of `EXPORT_FIELDS` in ExportCsv.ts, and
 * `payload.<key>`), `delimiter` (`,` or `;`).
 */
export const UploadQuery = {
  source: Schema.optional(Schema.String.check(Schema.isMaxLength(200))),
  from: Schema.optional(Schema.String),
  to: Schema.optional(Schema.String),
  tolerance: Schema.optional(
    Schema.FiniteFromString.check(
      Schema.isInt(),
      Schema.isBetween({ minimum: 0, maximum: 86_400_000 })
    )
  ),
  timeZone: Schema.optional(Schema.String.check(Schema.isMaxLength(100))),
  columns: Schema.optional(Schema.String.check(Schema.isMaxLength(2000))),
  delimiter: Schema.optional(Schema.Literals([",", ";"]))
}

/** `GET /api/reconciliations/:id` query: a category, and keyset paging. */
export const ReportQuery = {
  category: Schema.optional(Category),
  after: Schema.optional(Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThan(-1))),
  limit: Schema.optional(
    Schema.FiniteFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))
  )
}

/** `GET /api/reconciliations` query. */
export const ListQuery = {
  before: Schema.optional(PositiveInt),
  limit: Schema.optional(
    Schema.FiniteFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100 }))
  )
}
