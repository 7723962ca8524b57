// Loaded with `node --import` (after tsx): from then on `effect` cannot be
// resolved, as in a project that does not install it.
import { register } from "node:module"

register(
  `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === "effect" || specifier.startsWith("effect/")) {
    throw Object.assign(new Error("Cannot find package 'effect'"), { code: "ERR_MODULE_NOT_FOUND" })
  }
  return next(specifier, context)
}`)}`
)
