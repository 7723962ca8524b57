// A tiny deep-equality assertion, so the Deno tests need nothing from a
// registry this project does not otherwise use.
const format = (value: unknown): string =>
  JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `${v}n` : v))

export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  if (format(actual) !== format(expected)) {
    throw new Error(
      `${message ?? "assertEquals"}: expected ${format(expected)}, got ${format(actual)}`
    )
  }
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message)
}

export function assertThrows(fn: () => unknown, message?: string): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error(message ?? "expected the function to throw")
}
