/** The path MomentScience calls (GET and POST). */
export const INGEST_PATH = "/postbacks"
