/**
 * @internal
 * Effect 3's `effect/GlobalValue`, which effect 4 does not have, for the shared modules that still
 * import it (src/internal/export/routingGroups.ts): one value per id in the process, however many
 * copies of the module are loaded. `effect/GlobalValue` resolves here in the Effect 4 line's
 * typecheck, tests and bench, and its build (effect4/scripts/tsc.mjs --emit) points the built
 * shared module here, until the shared module no longer imports an effect module for it.
 */
const store: Map<unknown, unknown> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for("effect-user-tracing/GlobalValue")
] ??= new Map()) as Map<unknown, unknown>

/** @internal the value under `id`, computed by `compute` the first time */
export const globalValue = <A>(id: unknown, compute: () => A): A => {
  if (!store.has(id)) store.set(id, compute())
  return store.get(id) as A
}
