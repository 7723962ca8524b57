// Rule sets known to have passed the schema, so that converting with them
// does not validate them again.
export const validatedRules: WeakSet<object> = new WeakSet()
