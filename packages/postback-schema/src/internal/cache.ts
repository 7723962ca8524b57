// Resolved options by content, so that `parsePostbackQuery(query, { exclude:
// ["secret"] })` with a fresh options object on each call neither re-checks
// the options nor rebuilds what is made from them.
import type { PostbackOptions } from "../PostbackOptions.ts"

const MAX_CACHED = 64

const optionsKey = (options: PostbackOptions): string =>
  JSON.stringify(options, (_, value) =>
    value instanceof RegExp ? `/${value.source}/${value.flags}` : value
  )

/**
 * A memo of `make(options)` keyed by the options' content (at most 64 kept).
 * Options are read when first seen: do not mutate an options object between
 * calls.
 */
export const cachedByOptions = <A>(
  make: (options: PostbackOptions | undefined) => A
): ((options?: PostbackOptions) => A) => {
  let defaults: A | undefined
  let lastOptions: PostbackOptions | undefined
  let last: A | undefined
  const byKey = new Map<string, A>()
  return (options) => {
    if (options === undefined) {
      defaults ??= make(undefined)
      return defaults
    }
    if (options === lastOptions) return last!
    const key = optionsKey(options)
    let value = byKey.get(key)
    if (value === undefined) {
      value = make(options)
      if (byKey.size >= MAX_CACHED) byKey.clear()
      byKey.set(key, value)
    }
    lastOptions = options
    last = value
    return value
  }
}
