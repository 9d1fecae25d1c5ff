import * as Data from "effect/Data"

/** @internal */
export class UserTraceSinkError extends Data.TaggedError("UserTraceSinkError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** @internal */
export const defaultMaxBodySize = 16 * 1024 * 1024
