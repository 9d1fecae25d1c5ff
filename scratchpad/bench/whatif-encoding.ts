/**
 * Stand-in for `src/internal/otlpEncoding.ts` in the what-if bundle (`whatif.ts`): the same
 * export, backed by `encoder-prototype.ts`. Never imported by the library itself.
 */
import type { FinishedUserSpan } from "../../src/UserSpan.js"
import { libraryName, libraryVersion } from "../../src/internal/version.js"
import * as Prototype from "./encoder-prototype.js"

const scope = { name: libraryName, version: libraryVersion }

export const encodeTraceRequest = (
  resource: { readonly serviceName: string },
  spans: ReadonlyArray<FinishedUserSpan>
): Uint8Array => Prototype.encodeTraceRequest(resource, spans, scope)
