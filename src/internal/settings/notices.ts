/**
 * @internal
 * What the settings say at start, in plain code (no effect module), shared by the Effect 3 and the
 * Effect 4 lines, each logging the lines with its own effects: the warnings about `USER_TRACING_*`
 * names no setting reads or set while tracing is disabled, and the start-up line.
 */
import { forLog, safeJson, truncate } from "../shared/text.js"
import { variablePrefix, type Variables, variables } from "./environment.js"

const knownNames = variables.map((variable) => variable.name)

/** @internal whether `name` is a variable the reader knows */
export const isKnownName = (name: string): boolean => knownNames.includes(name)

/** Edit distance (insertions, deletions, substitutions) between two names, each cut to 64 characters. */
const distance = (a: string, b: string): number => {
  const x = a.slice(0, 64)
  const y = b.slice(0, 64)
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const current = [i]
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[y.length]
}

/** @internal the known variable nearest to `name` (the first of the nearest, in the table's order) */
export const closestName = (name: string): string => {
  let best = knownNames[0]
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of knownNames) {
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** @internal past this many, unknown names are counted in one line rather than named one by one */
export const maxUnknownNamesWarned = 20

/**
 * @internal
 * One warning for each `USER_TRACING_*` name the `ConfigProvider` holds that no setting reads, with
 * the closest known name: a typo would otherwise leave tracing off, or a setting at its default,
 * without a word. A known name the provider lists but `vars` (what was read) lacks is in another
 * case (the environment provider lists names in upper case; they are read as written).
 */
export const unknownVariableWarnings = (names: ReadonlyArray<string>, vars: Variables): Array<string> => {
  const unknown = names.filter((name) => !isKnownName(name)).sort()
  const otherCase = names.filter((name) => isKnownName(name) && !vars.has(name)).sort()
  const lines = otherCase.map((name) =>
    `${name} is set in another case and is ignored: variable names are case-sensitive`
  )
  for (const name of unknown.slice(0, maxUnknownNamesWarned)) {
    lines.push(`${forLog(name)} is not a user tracing setting and is ignored; did you mean ${closestName(name)}?`)
  }
  if (unknown.length > maxUnknownNamesWarned) {
    lines.push(
      `${
        unknown.length - maxUnknownNamesWarned
      } more ${variablePrefix}* variables are not user tracing settings and are ignored`
    )
  }
  return lines
}

/**
 * @internal
 * A warning when variables are set but `USER_TRACING_ENABLED` is not: someone meant to trace.
 * `USER_TRACING_ENABLED=false` is a decision, and says so in the start-up line only.
 */
export const setWhileDisabledWarning = (vars: Variables): string | undefined => {
  if (vars.has("USER_TRACING_ENABLED")) return undefined
  const set = knownNames.filter((name) => vars.has(name))
  return set.length === 0 ?
    undefined :
    `${set.join(", ")} ${
      set.length === 1 ? "is" : "are"
    } set but USER_TRACING_ENABLED is not, so user tracing is disabled: set USER_TRACING_ENABLED=true to export`
}

/** @internal why settings read from the variables are disabled */
export const disabledByVariables = (vars: Variables): string => {
  const enabled = vars.get("USER_TRACING_ENABLED")
  return enabled === undefined ? "USER_TRACING_ENABLED is not set" : `USER_TRACING_ENABLED=${forLog(enabled.trim())}`
}

/** @internal why settings given in code are disabled */
export const disabledByInput = (input: { readonly enabled?: boolean | undefined }): string =>
  input.enabled === undefined ? "enabled is not set" : "enabled is false"

/** A URL without what may be a secret: the query string is only marked. Credentials are refused before. */
const shownUrl = (url: string): string => {
  const parsed = new URL(url)
  return forLog(`${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search === "" ? "" : "?…"}`)
}

interface OutputView {
  readonly routingHeaderName: string
  readonly compression: "none" | "gzip"
}

/** @internal what the start-up line shows of the settings */
export interface StartupView {
  readonly enabled: boolean
  readonly serviceName: string | undefined
  readonly output:
    | { readonly otlpUds: OutputView & { readonly socketPath: string } }
    | { readonly otlpHttp: OutputView & { readonly url: string; readonly headers?: object | undefined } }
    | undefined
}

/**
 * @internal
 * The start-up line: enabled or disabled (and why), the service, the output (socket path or URL,
 * static header names but never their values), the routing header.
 */
export const startupLine = (settings: StartupView, disabledBecause: string): string => {
  const { output, serviceName } = settings
  if (!settings.enabled || output === undefined || serviceName === undefined) {
    return `user tracing is disabled (${disabledBecause}): no user span is recorded or exported`
  }
  const service = safeJson(truncate(serviceName, 100))
  if ("otlpUds" in output) {
    const { compression, routingHeaderName, socketPath } = output.otlpUds
    return `user tracing is enabled: service ${service}, OTLP/HTTP over the Unix socket ${
      forLog(socketPath)
    }, routing header ${routingHeaderName}${compression === "gzip" ? ", gzip" : ""}`
  }
  const { compression, headers, routingHeaderName, url } = output.otlpHttp
  const names = Object.keys(headers ?? {})
  return `user tracing is enabled: service ${service}, OTLP/HTTP to ${shownUrl(url)}${
    names.length === 0 ? "" : ` (static headers: ${names.join(", ")})`
  }, routing header ${routingHeaderName}${compression === "gzip" ? ", gzip" : ""}`
}
