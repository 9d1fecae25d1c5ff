/**
 * @internal
 * The sink's options, checked before it starts (no effect module: shared by both lines): what it
 * may listen on, a Unix socket path that the kernel will not cut (the same rule as the exporter's
 * `socketPath` setting) or a TCP port on a named host, and its bound on request bodies.
 */
import type { Address, Options } from "../../UserTraceSink.js"
import { maxSocketPathBytes } from "../settings/rules.js"
import { forLog } from "../shared/text.js"

/** @internal the largest request body accepted unless told, before and after gunzip */
export const defaultMaxBodySize = 16 * 1024 * 1024

/** @internal the host a TCP sink listens on unless told: loopback only */
export const defaultHost = "127.0.0.1"

/** @internal why the sink cannot listen on `path`, or `undefined` */
export const socketPathProblem = (path: string): string | undefined => {
  if (path === "") return "must be a non-empty path"
  const bytes = Buffer.byteLength(path)
  return bytes > maxSocketPathBytes
    ? `must be at most ${maxSocketPathBytes} bytes (the kernel cuts a longer Unix socket path); this one has ${bytes}`
    : undefined
}

/** @internal why the sink cannot listen on `host`, or `undefined`: an empty host would mean every interface */
export const hostProblem = (host: string): string | undefined =>
  host.trim() === ""
    ? `must be a non-empty address (default ${defaultHost}; give 0.0.0.0 or :: to listen on every interface)`
    : undefined

/** @internal why the sink cannot listen on `port`, or `undefined` */
export const portProblem = (port: number): string | undefined =>
  Number.isInteger(port) && port >= 0 && port <= 65535 ? undefined : `must be an integer from 0 to 65535, got ${port}`

/** @internal why the sink cannot listen on `address`, naming the option, or `undefined` */
export const addressProblem = (address: Address): string | undefined => {
  const named = (option: string, problem: string | undefined) =>
    problem === undefined ? undefined : `${option} ${problem}`
  if ("socketPath" in address) return named("socketPath", socketPathProblem(address.socketPath))
  return named("port", portProblem(address.port)) ??
    (address.host === undefined ? undefined : named("host", hostProblem(address.host)))
}

/** @internal why the sink cannot start with `options` (already sanitized), or `undefined` */
export const optionsProblem = (options: Options): string | undefined => {
  const maxBodySize = options.maxBodySize ?? defaultMaxBodySize
  if (!Number.isSafeInteger(maxBodySize) || maxBodySize <= 0) {
    return `maxBodySize must be a positive integer, got ${maxBodySize}`
  }
  const problem = addressProblem(options)
  return problem === undefined ? undefined : forLog(problem)
}
