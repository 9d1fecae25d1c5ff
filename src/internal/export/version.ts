/** @internal the instrumentation scope name of every exported span */
export const libraryName = "effect-user-tracing"

/** @internal the instrumentation scope version: this package's version */
export const libraryVersion = "0.1.0"
