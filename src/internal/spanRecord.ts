import type { RoutingMetadata } from "../RoutingMetadata.js"
import { Option } from "effect"
import * as Tracestate from "../Tracestate.js"
import type {
  AttributeValue,
  FinishCallback,
  FinishedUserSpan,
  Finishing,
  UserSpanEvent,
  UserSpanKind,
  UserSpanLink,
  UserSpanLinkRecord,
  UserSpanStatus
} from "../UserSpan.js"
import type { SpanLimitsSettings } from "../UserTracingSettings.js"
import { drawSpanId, drawTraceId, hexWord, idWord, spanIdHex, type SpanIdWords, traceIdHex } from "./ids.js"

/** @internal what bounds the memory of one span: the settings' `limits` */
export type SpanLimits = SpanLimitsSettings

/** @internal where finished spans go, and the limits they were cut to: the harness's view */
export interface SpanSink {
  readonly limits: SpanLimits
  readonly export: (span: UserSpanRecord) => void
}

/** @internal what every span of one trace shares, set once at the root */
export class TraceContext {
  // The trace id as four little-endian words, drawn for a fresh trace, parsed from the inbound
  // hex for a continued one; its hex is made once, when first asked (a `traceparent`, a handle).
  readonly idWord0: number
  readonly idWord1: number
  readonly idWord2: number
  readonly idWord3: number
  private idHex: string | undefined
  constructor(
    /** The inbound trace id (32 hex characters); `undefined`: a fresh random one. */
    traceId: string | undefined,
    readonly traceFlags: number,
    readonly traceState: string | undefined,
    readonly routing: RoutingMetadata,
    readonly sink: SpanSink
  ) {
    if (traceId === undefined) {
      const at = drawTraceId()
      this.idWord0 = idWord(at)
      this.idWord1 = idWord(at + 4)
      this.idWord2 = idWord(at + 8)
      this.idWord3 = idWord(at + 12)
    } else {
      this.idHex = traceId
      this.idWord0 = hexWord(traceId, 0)
      this.idWord1 = hexWord(traceId, 8)
      this.idWord2 = hexWord(traceId, 16)
      this.idWord3 = hexWord(traceId, 24)
    }
  }
  get traceId(): string {
    return this.idHex ??= traceIdHex(this.idWord0, this.idWord1, this.idWord2, this.idWord3)
  }
}

const truncate = (value: AttributeValue, max: number): AttributeValue => {
  if (typeof value === "string") return value.length > max ? value.slice(0, max) : value
  if (Array.isArray(value)) {
    let out: Array<string | number | bigint | boolean> | undefined
    for (let i = 0; i < value.length; i++) {
      const item = value[i]
      if (typeof item === "string" && item.length > max) {
        out ??= value.slice()
        out[i] = item.slice(0, max)
      }
    }
    return out ?? value
  }
  return value
}

let nextSequence = 0

/** From this many attributes on, a span finds keys through a Map rather than a scan. */
const INDEXED_ATTRIBUTES = 16

const NO_EVENTS: Array<UserSpanEvent> = Object.freeze([]) as unknown as Array<UserSpanEvent>
const NO_LINKS: Array<UserSpanLinkRecord> = Object.freeze([]) as unknown as Array<UserSpanLinkRecord>

const INVALID_TRACE_ID = "00000000000000000000000000000000"

/** Attributes from a record, cut to `max` entries (the rest counted) and to the value length. */
const cutAttributes = (
  attributes: ReadonlyArray<readonly [string, AttributeValue]>,
  max: number,
  maxLength: number
): readonly [ReadonlyArray<readonly [string, AttributeValue]>, number] => {
  const kept = Math.min(attributes.length, max)
  const cut: Array<readonly [string, AttributeValue]> = new Array(kept)
  for (let i = 0; i < kept; i++) cut[i] = [attributes[i][0], truncate(attributes[i][1], maxLength)]
  return [cut, attributes.length - kept]
}

/**
 * @internal
 * One user span, mutable until `end`, then handed as is to the exporter: the same object is the
 * live span, the `Finishing` view and the finished record, so finishing copies nothing.
 */
export class UserSpanRecord implements Finishing, FinishedUserSpan, SpanIdWords {
  readonly idLow: number
  readonly idHigh: number
  private idHex: string | undefined
  /** Creation order, to order siblings that share a start time. */
  readonly sequence = nextSequence++
  /**
   * The attributes in insertion order, keys and values alternating: cheaper to make and to read
   * than a Map for the few a span has (the `attributes` Map is made when asked). Keys are found by
   * a scan, or through `attributeIndex` once there are many.
   */
  readonly attributeList: Array<string | AttributeValue> = []
  private attributeIndex: Map<string, number> | undefined
  // Most spans have no event or link: they share one empty array until their first.
  events: Array<UserSpanEvent> = NO_EVENTS
  links: Array<UserSpanLinkRecord> = NO_LINKS
  endTime = 0n
  failed = false
  ended = false
  droppedAttributesCount = 0
  droppedEventsCount = 0
  droppedLinksCount = 0
  /** What the application set: `ok` is final, `unset` sets nothing. */
  statusSet: "unset" | "ok" | "error" = "unset"
  statusSetMessage = ""

  constructor(
    readonly trace: TraceContext,
    public name: string,
    readonly kind: UserSpanKind,
    /** The parent span (a record, or the inbound parent id); `undefined` for a fresh root. */
    readonly parent: SpanIdWords | undefined,
    readonly remoteParent: boolean,
    readonly startTime: bigint,
    public finishCallback: FinishCallback | undefined
  ) {
    const at = drawSpanId()
    this.idLow = idWord(at)
    this.idHigh = idWord(at + 4)
  }

  get spanId(): string {
    return this.idHex ??= spanIdHex(this.idLow, this.idHigh)
  }
  get parentSpanId(): string | undefined {
    return this.parent?.spanId
  }

  get traceId(): string {
    return this.trace.traceId
  }
  get traceFlags(): number {
    return this.trace.traceFlags
  }
  get traceState(): string | undefined {
    return this.trace.traceState
  }
  get routing(): RoutingMetadata {
    return this.trace.routing
  }
  get sampled(): boolean {
    return true
  }
  get attributes(): ReadonlyMap<string, AttributeValue> {
    const list = this.attributeList
    const attributes = new Map<string, AttributeValue>()
    for (let i = 0; i < list.length; i += 2) attributes.set(list[i] as string, list[i + 1])
    return attributes
  }
  get status(): "unset" | "ok" | "error" {
    if (this.statusSet !== "unset") return this.statusSet
    return this.failed || this.attributeAt("error") >= 0 ? "error" : "unset"
  }
  get statusMessage(): string {
    return this.status === "error" ? this.statusSetMessage : ""
  }

  setStatus(status: UserSpanStatus): void {
    if (this.statusSet === "ok" || status.code === "unset") return
    this.statusSet = status.code
    this.statusSetMessage = status.code === "error" && status.message !== undefined
      ? status.message.slice(0, this.trace.sink.limits.maxAttributeValueLength)
      : ""
  }

  attribute(key: string, value: AttributeValue): void {
    const list = this.attributeList
    const limits = this.trace.sink.limits
    const at = this.attributeAt(key)
    if (at >= 0) {
      // A replaced key moves to the end, as in a Map; the index is made again when next needed.
      list.splice(at, 2)
      this.attributeIndex = undefined
    } else if (list.length >= 2 * limits.maxAttributes) {
      this.droppedAttributesCount++
      return
    }
    list.push(key, truncate(value, limits.maxAttributeValueLength))
    this.attributeIndex?.set(key, list.length - 2)
  }

  /** Where `key` is in `attributeList`, or -1. */
  private attributeAt(key: string): number {
    const list = this.attributeList
    if (list.length < 2 * INDEXED_ATTRIBUTES) {
      for (let i = 0; i < list.length; i += 2) if (list[i] === key) return i
      return -1
    }
    let index = this.attributeIndex
    if (index === undefined) {
      index = new Map()
      for (let i = 0; i < list.length; i += 2) index.set(list[i] as string, i)
      this.attributeIndex = index
    }
    return index.get(key) ?? -1
  }

  attributesFrom(record: Record<string, AttributeValue>): void {
    for (const key in record) this.attribute(key, record[key])
  }

  addEvent(name: string, time: bigint, attributes: ReadonlyArray<readonly [string, AttributeValue]>): void {
    const limits = this.trace.sink.limits
    if (this.events.length >= limits.maxEvents) {
      this.droppedEventsCount++
      return
    }
    const [cut, dropped] = cutAttributes(attributes, limits.maxEventAttributes, limits.maxAttributeValueLength)
    if (this.events === NO_EVENTS) this.events = []
    this.events.push({ name, time, attributes: cut, droppedAttributesCount: dropped })
  }

  addLink(link: UserSpanLink): void {
    const target = link.span
    if (target.traceId === INVALID_TRACE_ID) return // an inactive handle: nothing to point at
    const limits = this.trace.sink.limits
    if (this.links.length >= limits.maxLinks) {
      this.droppedLinksCount++
      return
    }
    const [attributes, dropped] = cutAttributes(
      link.attributes === undefined ? [] : Object.entries(link.attributes),
      limits.maxLinkAttributes,
      limits.maxAttributeValueLength
    )
    let record: UserSpanLinkRecord
    if ("spanId" in target) {
      const local = target instanceof UserSpanRecord
      record = {
        traceId: target.traceId,
        spanId: target.spanId,
        traceState: local ? target.traceState : undefined,
        traceFlags: local ? target.traceFlags : target.sampled ? 1 : 0,
        remote: false,
        attributes,
        droppedAttributesCount: dropped
      }
    } else {
      record = {
        traceId: target.traceId,
        spanId: target.parentId,
        traceState: link.tracestate === undefined
          ? undefined
          : Option.getOrUndefined(Option.map(Tracestate.parse(link.tracestate), Tracestate.format)),
        traceFlags: target.traceFlags & 0xff,
        remote: true,
        attributes,
        droppedAttributesCount: dropped
      }
    }
    if (this.links === NO_LINKS) this.links = []
    this.links.push(record)
  }

  // The Finishing view's `event`: timestamped with the span's end time, which the harness sets
  // before it runs the callback, so that no clock needs to be reachable from plain code.
  event(name: string, attributes?: Record<string, AttributeValue>): void {
    this.addEvent(name, this.endTime, attributes === undefined ? [] : Object.entries(attributes))
  }

  /** Ends the span once: runs the finish callback, then hands the span to the sink. */
  end(endTime: bigint, failed: boolean): void {
    if (this.ended) return
    this.ended = true
    this.endTime = endTime < this.startTime ? this.startTime : endTime
    this.failed = failed
    const callback = this.finishCallback
    if (callback !== undefined) {
      this.finishCallback = undefined
      try {
        callback(this)
      } catch {
        // A throwing callback must not break the application or lose the span.
      }
    }
    this.trace.sink.export(this)
  }
}
