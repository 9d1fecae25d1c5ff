import * as Option from "effect/Option"
import type { RoutingMetadata } from "../../RoutingMetadata.js"
import * as Tracestate from "../../Tracestate.js"
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
} from "../../UserSpan.js"
import type { SpanLimits } from "../../UserTracingSettings.js"
import {
  drawSpanId,
  drawTraceId,
  idWord,
  spanIdHex,
  type SpanIdWords,
  traceIdHex,
  traceIdWord,
  type TraceIdWords
} from "./ids.js"
import type { SpanHolder } from "./slot.js"

/** @internal what bounds the memory of one span: the settings' `limits` */

/** @internal where finished spans go, and the limits they were cut to: the harness's view */
export interface SpanSink {
  readonly limits: SpanLimits
  readonly export: (span: UserSpanRecord) => void
}

/** @internal what every span of one trace shares, set once at the root */
export class TraceContext implements TraceIdWords {
  // The id as words (what the encoder writes); its hex is made once, when first asked (a
  // `traceparent`), unless the trace continues an inbound one, which arrives as hex.
  readonly w0: number
  readonly w1: number
  readonly w2: number
  readonly w3: number
  private idHex: string | undefined
  constructor(
    /** The inbound trace id (32 lowercase hex characters), or `undefined` to draw a fresh one. */
    traceId: string | undefined,
    readonly traceFlags: number,
    readonly traceState: string | undefined,
    readonly routing: RoutingMetadata,
    readonly sink: SpanSink
  ) {
    if (traceId === undefined) {
      const at = drawTraceId()
      this.w0 = idWord(at)
      this.w1 = idWord(at + 4)
      this.w2 = idWord(at + 8)
      this.w3 = idWord(at + 12)
    } else {
      this.w0 = traceIdWord(traceId, 0)
      this.w1 = traceIdWord(traceId, 1)
      this.w2 = traceIdWord(traceId, 2)
      this.w3 = traceIdWord(traceId, 3)
    }
    this.idHex = traceId
  }
  get traceId(): string {
    return this.idHex ??= traceIdHex(this)
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

/** A span with this many attributes finds its keys through an index, not by a walk. */
const INDEXED_FROM = 16

const NO_ATTRIBUTES: Array<string | AttributeValue> = Object.freeze([]) as unknown as Array<string | AttributeValue>
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
export class UserSpanRecord implements Finishing, FinishedUserSpan, SpanIdWords, SpanHolder {
  readonly idLow: number
  readonly idHigh: number
  private idHex: string | undefined
  readonly hasParent: boolean
  readonly parentLow: number
  readonly parentHigh: number
  /** Creation order, to order siblings that share a start time. */
  readonly sequence = nextSequence++
  /**
   * The attributes as keys and values in turn, in insertion order: one array per span, read in
   * place by the encoder. `attributes` makes the `Map` view when something asks for it. A shared
   * empty array until the first attribute; the first ones given together make it to their number.
   * Made by the `Array` constructor, never a literal: V8 pretenures a literal's allocation site
   * whose objects are alive at a scavenge, and every span's list then went to old space (half the
   * speed).
   */
  attributeList: Array<string | AttributeValue> = NO_ATTRIBUTES
  /** Each key's index in `attributeList`, made once a span has many: finding a key stays cheap. */
  private attributeIndex: Map<string, number> | undefined = undefined
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
  /** Set by `discard`: the span is current nowhere, and not exported when it ends. */
  discarded = false
  /** Whether an `error` attribute is set: the span's status is then error (kept as keys are added, never removed). */
  private errorAttribute = false

  constructor(
    readonly trace: TraceContext,
    public name: string,
    readonly kind: UserSpanKind,
    /** The parent span (a record, or the inbound parent id); `undefined` for a fresh root. */
    parent: SpanIdWords | undefined,
    readonly remoteParent: boolean,
    readonly startTime: bigint,
    public finishCallback: FinishCallback | undefined
  ) {
    const at = drawSpanId()
    this.idLow = idWord(at)
    this.idHigh = idWord(at + 4)
    // The parent's id, not the parent: a span must not keep its (possibly ended) parent alive.
    this.hasParent = parent !== undefined
    this.parentLow = parent === undefined ? 0 : parent.idLow
    this.parentHigh = parent === undefined ? 0 : parent.idHigh
  }

  get spanId(): string {
    return this.idHex ??= spanIdHex(this.idLow, this.idHigh)
  }
  get parentSpanId(): string | undefined {
    return this.hasParent ? spanIdHex(this.parentLow, this.parentHigh) : undefined
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
    return !this.discarded
  }
  /** Itself, as the span current where it is held; `undefined` once discarded (then it records nothing). */
  get active(): UserSpanRecord | undefined {
    return this.discarded ? undefined : this
  }
  get attributes(): ReadonlyMap<string, AttributeValue> {
    const list = this.attributeList
    const map = new Map<string, AttributeValue>()
    for (let i = 0; i < list.length; i += 2) map.set(list[i] as string, list[i + 1] as AttributeValue)
    return map
  }
  get status(): "unset" | "ok" | "error" {
    if (this.statusSet !== "unset") return this.statusSet
    return this.failed || this.errorAttribute ? "error" : "unset"
  }

  /** Where `key` is in `attributeList`, or -1. */
  private indexOf(key: string): number {
    const index = this.attributeIndex
    if (index !== undefined) return index.get(key) ?? -1
    const list = this.attributeList
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === key) return i
    }
    return -1
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
    if (this.attributeList === NO_ATTRIBUTES) this.attributeList = new Array<string | AttributeValue>()
    const list = this.attributeList
    const limits = this.trace.sink.limits
    const at = this.indexOf(key)
    if (at >= 0) {
      // A replaced key moves to the end, as in a `Map` deleted from and set again.
      list.splice(at, 2)
      if (this.attributeIndex !== undefined) this.indexFrom(at)
    } else if (list.length >= 2 * limits.maxAttributes) {
      this.droppedAttributesCount++
      return
    }
    const position = list.length
    list.push(key, truncate(value, limits.maxAttributeValueLength))
    if (key === "error") this.errorAttribute = true
    if (this.attributeIndex !== undefined) this.attributeIndex.set(key, position)
    else if (position >= 2 * INDEXED_FROM) this.indexFrom(0)
  }

  /** Indexes the keys from `start` on (all of them the first time). */
  private indexFrom(start: number): void {
    const index = this.attributeIndex ??= new Map()
    const list = this.attributeList
    for (let i = start; i < list.length; i += 2) index.set(list[i] as string, i)
  }

  attributesFrom(record: Record<string, AttributeValue>): void {
    if (this.attributeList.length > 0) {
      for (const key in record) this.attribute(key, record[key])
      return
    }
    // The first attributes (the options' own, most often): the keys of one object are distinct,
    // so none is looked for, and the list is made to their number.
    const limits = this.trace.sink.limits
    const maxLength = limits.maxAttributeValueLength
    let keys = 0
    for (const _ in record) keys++
    if (keys === 0) return
    const kept = Math.min(keys, limits.maxAttributes)
    const list = new Array<string | AttributeValue>(2 * kept)
    let at = 0
    for (const key in record) {
      if (at === 2 * kept) break
      list[at] = key
      list[at + 1] = truncate(record[key], maxLength)
      at += 2
      if (key === "error") this.errorAttribute = true
    }
    this.droppedAttributesCount += keys - kept
    this.attributeList = list
    if (list.length > 2 * INDEXED_FROM) this.indexFrom(0)
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

  /**
   * Marks the span discarded: from now on it is current nowhere (it records nothing and opens no
   * child), and when it ends it is neither exported nor counted. Spans that exist already, its
   * children included, are unaffected.
   */
  discard(): void {
    this.discarded = true
    this.finishCallback = undefined
  }

  /** Ends the span once: runs the finish callback, then hands the span to the sink (unless discarded). */
  end(endTime: bigint, failed: boolean): void {
    if (this.ended) return
    this.ended = true
    if (this.discarded) return
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
