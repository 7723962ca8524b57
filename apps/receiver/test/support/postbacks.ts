/**
 * The fields of MomentScience's documented sample postback (POST JSON, as
 * its dashboard's "Test endpoint" sends it), with `overrides` on top: the
 * body the receiver tests post, each with its own payload and changes.
 */
export const docsPostback = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  offer_id: "1511",
  advertiser_name: "MomentScience",
  payout: "2.10",
  timestamp: "2023-09-20T15:27:40.802Z",
  is_loyaltyboost: "1",
  ...overrides
})
