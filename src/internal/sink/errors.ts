import * as Data from "effect/Data"

/** @internal */
export class UserTraceSinkError extends Data.TaggedError("UserTraceSinkError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export { defaultMaxBodySize } from "./address.js"
