const SECRET_NAME = /secret|token|password|passwd|api[-_]?key|signature|auth/i

/**
 * A URL for messages and terminal output, with the values of parameters
 * that look like credentials (`secret`, `token`, `api_key`, ...) replaced
 * by `***`, so that logs of a test run do not leak a receiver's secret.
 */
export const redactUrl = (url: string): string => {
  const query = url.indexOf("?")
  if (query < 0) return url
  const hash = url.indexOf("#", query)
  const end = hash < 0 ? url.length : hash
  const parts = url.slice(query + 1, end).split("&")
  let changed = false
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    const eq = part.indexOf("=")
    if (eq <= 0) continue
    let name: string
    try {
      name = decodeURIComponent(part.slice(0, eq).replaceAll("+", " "))
    } catch {
      name = part.slice(0, eq)
    }
    if (SECRET_NAME.test(name)) {
      parts[i] = `${part.slice(0, eq)}=***`
      changed = true
    }
  }
  return changed ? `${url.slice(0, query + 1)}${parts.join("&")}${url.slice(end)}` : url
}

/** Header values that are credentials (`authorization`, `cookie`, `x-api-key`, ...) as `***`. */
export const redactHeaders = (
  headers: Readonly<Record<string, string>>
): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_NAME.test(name) || /cookie/i.test(name) ? "***" : value
  }
  return out
}
