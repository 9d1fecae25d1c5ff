/**
 * @internal
 * The routing groups the export queue knows: found by `groupKey()`, checked once (a legal header
 * value within `maxRoutingValueBytes`), and forgotten some time after they hold nothing.
 */
import type { RoutingMetadata } from "../../RoutingMetadata.js"
import { isHeaderValue } from "../shared/httpSyntax.js"
import { Group } from "./chunk.js"

/** @internal something for the exporter to log */
export interface Notice {
  readonly message: string
  /** Rate-limited with the export failures; otherwise logged as a warning as it is. */
  readonly isFailure: boolean
}

/** @internal idle groups kept (their routing value and chunk size) before the longest idle is forgotten */
export const MAX_IDLE_GROUPS = 256

/**
 * @internal
 * What a group's objects hold besides its routing value (the group, its chunk list): V8's sizes
 * on 64-bit Node, rounded up. Counted in the byte bound while the group has queued spans.
 */
export const GROUP_OBJECT_BYTES = 320

const NO_ROUTING = {} as RoutingMetadata

type Rejection = "illegal" | "tooLong"

/**
 * The long routing value warning is said once per process, however many layers are built (or
 * copies of this module loaded): a plain global, as this module is shared by both Effect lines.
 */
const routingLimitWarning: { said: boolean } = ((globalThis as Record<symbol, unknown>)[
  Symbol.for("effect-user-tracing/export/routingLimitWarning")
] ??= { said: false }) as { said: boolean }

/** @internal */
export class RoutingGroups {
  /** Every known group: with spans queued or in flight, or idle. */
  private readonly groups = new Map<string, Group>()
  /** Groups with nothing queued or in flight, longest idle first. */
  private idleOldest: Group | undefined = undefined
  private idleNewest: Group | undefined = undefined
  private idleCount = 0
  private closed = false
  /** Spans of one trace share their routing object: most lookups end here. */
  private lastRouting: RoutingMetadata = NO_ROUTING
  private lastGroup: Group | undefined = undefined
  private readonly notices: Array<Notice> = []
  private rejectedIllegal = 0

  constructor(
    private readonly maxRoutingValueBytes: number,
    /** Called when a notice is first waiting to be logged. */
    private readonly onNotice: () => void
  ) {}

  get size(): number {
    return this.groups.size
  }

  /** The group of `routing`, made if new; `undefined` when its spans are rejected (noted). */
  groupOf(routing: RoutingMetadata): Group | undefined {
    if (routing === this.lastRouting) return this.lastGroup
    const found = this.lookUp(routing)
    if (typeof found !== "string") {
      this.lastRouting = routing
      this.lastGroup = found
      return found
    }
    // A rejected routing object is not kept (it may hold a long value): its next span looks again.
    if (found === "illegal" && this.rejectedIllegal++ === 0) this.onNotice()
    return undefined
  }

  /** The group of `routing`, made if new; or why its spans are rejected. Holds no value past the limit. */
  private lookUp(routing: RoutingMetadata): Group | Rejection {
    let key: unknown
    try {
      key = routing.groupKey()
    } catch {
      return "illegal"
    }
    if (typeof key !== "string") return "illegal"
    const limit = this.maxRoutingValueBytes
    if (key.length > limit) return this.tooLong(key.length)
    const known = this.groups.get(key)
    if (known !== undefined) return known
    let header: unknown
    try {
      header = routing.encode()
    } catch {
      return "illegal"
    }
    if (typeof header !== "string") return "illegal"
    if (header.length > limit) return this.tooLong(header.length)
    if (!isHeaderValue(header)) return "illegal"
    const group = new Group(key, header, GROUP_OBJECT_BYTES + key.length + (header === key ? 0 : header.length))
    this.groups.set(key, group)
    return group
  }

  private tooLong(length: number): Rejection {
    if (!routingLimitWarning.said) {
      routingLimitWarning.said = true
      const limit = this.maxRoutingValueBytes
      this.notices.push({
        message: `user tracing: a routing value of ${length} bytes is longer than maxRoutingValueBytes (${limit}): ` +
          "spans with such a value are rejected and counted failed. Raise the limit with maxRoutingValueBytes " +
          "(USER_TRACING_MAX_ROUTING_VALUE_BYTES) only as far as the receiver and every proxy before it accept " +
          "in one header (said once per process)",
        isFailure: false
      })
      this.onNotice()
    }
    return "tooLong"
  }

  /**
   * A group with nothing queued or in flight joins the idle groups; past `MAX_IDLE_GROUPS` of them,
   * the one idle longest is forgotten. A busy tenant's group outlives the moments between its
   * requests (and keeps its chunk size); a stream of one-off routing values costs nothing for long.
   */
  retireIfIdle(group: Group): void {
    if (group.chunks.length > 0 || group.inFlight > 0 || group.idle || this.closed) return
    group.idle = true
    group.idlePrevious = this.idleNewest
    if (this.idleNewest === undefined) this.idleOldest = group
    else this.idleNewest.idleNext = group
    this.idleNewest = group
    if (++this.idleCount <= MAX_IDLE_GROUPS) return
    const oldest = this.idleOldest!
    this.activate(oldest)
    this.groups.delete(oldest.key)
    if (this.lastGroup === oldest) {
      this.lastRouting = NO_ROUTING
      this.lastGroup = undefined
    }
  }

  /** `group` has something queued again: no longer idle. */
  activate(group: Group): void {
    if (!group.idle) return
    const previous = group.idlePrevious
    const next = group.idleNext
    if (previous === undefined) this.idleOldest = next
    else previous.idleNext = next
    if (next === undefined) this.idleNewest = previous
    else next.idlePrevious = previous
    group.idlePrevious = group.idleNext = undefined
    group.idle = false
    this.idleCount--
  }

  /** Every group is forgotten; none is kept from now on. */
  close(): void {
    this.closed = true
    this.groups.clear()
    this.idleOldest = this.idleNewest = undefined
    this.idleCount = 0
    this.lastRouting = NO_ROUTING
    this.lastGroup = undefined
  }

  get hasNotices(): boolean {
    return this.notices.length > 0 || this.rejectedIllegal > 0
  }

  takeNotices(): Array<Notice> {
    const notices = this.notices.splice(0)
    if (this.rejectedIllegal > 0) {
      notices.push({
        message: `user tracing: rejected ${this.rejectedIllegal} spans: their routing value is not a legal header ` +
          "value, or its groupKey() or encode() threw",
        isFailure: true
      })
      this.rejectedIllegal = 0
    }
    return notices
  }
}
