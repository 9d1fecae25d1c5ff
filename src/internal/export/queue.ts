/**
 * @internal
 * The export queue's bookkeeping, in plain synchronous code: each finished span is encoded at
 * once into the open chunk of its routing group (the span record is not kept), chunks are what
 * the worker fibers take, and the span and byte bounds are enforced with a fair share per group.
 */
import protobuf from "protobufjs/minimal.js"
import type { RoutingMetadata } from "../../RoutingMetadata.js"
import type { FinishedUserSpan } from "../../UserSpan.js"
import { isHeaderValue } from "../shared/httpSyntax.js"
import { frameRequestInPlace, type RequestEnvelope, writeSpan } from "./encoding.js"

/** @internal the spans of one routing group waiting to be sent together, encoded */
export class Chunk {
  /** `buf[reserve..length]` holds the spans' bytes; the request envelope is framed in front of them. */
  buf: Uint8Array
  length: number
  /** The end offset in `buf` of every span appended, in order. */
  readonly ends: Array<number> = []
  /** Spans before it were dropped to make room for other groups. */
  first = 0
  /** No more spans go in: full, or taken by a worker. */
  sealed = false
  taken = false
  /** Exported, failed or dropped: nothing of it is counted any more. */
  settled = false

  constructor(readonly id: number, readonly group: Group, readonly reserve: number, capacity: number) {
    // A Node `Buffer` (protobufjs's BufferWriter writes strings with its `utf8Write`), not zero-filled:
    // every byte sent is written first.
    this.buf = Buffer.allocUnsafeSlow(capacity)
    this.length = reserve
  }

  get count(): number {
    return this.ends.length - this.first
  }
  get spansStart(): number {
    return this.first === 0 ? this.reserve : this.ends[this.first - 1]
  }
  get bytes(): number {
    return this.length - this.spansStart
  }
}

/** @internal one routing group: its header, and its chunks not yet taken, oldest first */
export class Group {
  readonly chunks: Array<Chunk> = []
  spans = 0
  bytes = 0
  registered = true
  constructor(
    readonly key: string,
    /** The routing header value; `undefined` when it is not a legal header value (rejected). */
    readonly header: string | undefined
  ) {}
}

/** @internal what the exporter counts; applied to the metrics by the workers and flushes */
export interface Counters {
  total: number
  dropped: number
  exported: number
  failed: number
}

/** @internal */
export interface ExportQueueOptions {
  readonly envelope: RequestEnvelope
  readonly maxQueueSize: number | null
  readonly maxQueueBytes: number | null
  readonly maxBatchSize: number
  readonly maxBatchBytes: number
  /** Hands a new chunk to the workers (at its creation: it fills until a worker takes it). */
  readonly offer: (chunk: Chunk) => void
}

const INVALID_KEY = "\n"
const EMPTY = new Uint8Array(0)
const MIN_CAPACITY = 2048
/** The scratch buffer is replaced after a span larger than this, so one huge span is not kept. */
const MAX_SCRATCH = 1024 * 1024

const headerOf = (routing: RoutingMetadata): string | undefined => {
  try {
    const header = routing.encode()
    return isHeaderValue(header) ? header : undefined
  } catch {
    return undefined
  }
}

/**
 * @internal
 * The queue: `add` never blocks and never throws. Spans are counted (`counters`) and queued
 * (`queuedSpans`, `queuedBytes`: in chunks not yet taken); `take` hands a chunk to a worker, and
 * `settle` ends it. `unsettled` holds the chunks not settled, in creation order: a flush waits
 * until none created before it is left.
 */
export class ExportQueue {
  readonly counters: Counters = { total: 0, dropped: 0, exported: 0, failed: 0 }
  queuedSpans = 0
  queuedBytes = 0
  closed = false
  lastChunkId = 0
  readonly unsettled = new Set<Chunk>()

  private readonly groups = new Map<string, Group>()
  /** Groups with queued spans: the fair share is the bound divided by it. */
  private groupsQueued = 0
  private readonly maxSpans: number
  private readonly maxBytes: number
  /** Span bytes one chunk may hold so that its request stays within `maxBatchBytes`. */
  private readonly maxChunkBytes: number
  /** Writes every span, into its chunk's buffer or the scratch. */
  private writer = protobuf.Writer.create()
  private scratch: Uint8Array = Buffer.allocUnsafeSlow(MIN_CAPACITY)
  /** The span bytes of the last chunk taken or sealed: the next chunk's first capacity. */
  private lastChunkBytes = 0
  private lastRouting: RoutingMetadata | undefined
  private lastGroup: Group | undefined

  constructor(private readonly options: ExportQueueOptions) {
    this.maxSpans = options.maxQueueSize ?? Number.POSITIVE_INFINITY
    this.maxBytes = options.maxQueueBytes ?? Number.POSITIVE_INFINITY
    this.maxChunkBytes = Math.max(0, options.maxBatchBytes - options.envelope.maxOverhead)
  }

  /** Encodes `span` into its group's open chunk, making room or dropping it when a bound is reached. */
  add(span: FinishedUserSpan): void {
    this.counters.total++
    if (this.closed) {
      this.counters.dropped++
      return
    }
    const group = this.groupOf(span.routing)
    if (group.header === undefined) {
      const open = this.openChunk(group)
      return this.enqueue(group, open, this.scratch, open === undefined ? 0 : open.length, 0)
    }
    // The span is written where it will stay, after the open chunk's spans: no copy. With no open
    // chunk, it goes to the scratch buffer, copied into the chunk made for it.
    const open = this.openChunk(group)
    const w = this.writer
    w.buf = open === undefined ? this.scratch : open.buf
    const start = w.pos = open === undefined ? 0 : open.length
    try {
      writeSpan(w, span)
    } catch {
      // Finishing a span must never throw: a span that cannot be encoded is lost, and counted.
      // What it wrote lies past the chunk's length, where the next span overwrites it; the
      // writer, left mid-span, is replaced.
      this.writer = protobuf.Writer.create()
      this.counters.failed++
      return
    }
    if (open === undefined) this.scratch = w.buf
    this.enqueue(group, open, w.buf, start, w.pos - start)
    if (this.scratch.length > MAX_SCRATCH) this.scratch = Buffer.allocUnsafeSlow(MIN_CAPACITY)
  }

  /**
   * Queues a span of `size` bytes written at `start` of `written` (the scratch, or `open`'s buffer
   * or the writer's grown copy of it), within the bounds.
   */
  private enqueue(group: Group, open: Chunk | undefined, written: Uint8Array, start: number, size: number): void {
    if (
      (this.queuedSpans + 1 > this.maxSpans || this.queuedBytes + size > this.maxBytes) && !this.makeRoom(group, size)
    ) {
      this.counters.dropped++
      return
    }
    let chunk: Chunk
    if (open === undefined) {
      chunk = this.newChunk(group, written, start, size)
    } else if (open.bytes + size > this.maxChunkBytes) {
      // Full: the span moves to a new chunk. The open chunk keeps its own buffer, not a copy the
      // writer may have grown for this span.
      this.seal(open)
      chunk = this.newChunk(group, written, start, size)
    } else {
      open.buf = written
      chunk = open
    }
    chunk.length += size
    chunk.ends.push(chunk.length)
    if (group.spans === 0) this.groupsQueued++
    group.spans++
    group.bytes += size
    this.queuedSpans++
    this.queuedBytes += size
    if (chunk.ends.length >= this.options.maxBatchSize) this.seal(chunk)
  }

  /** Marks `chunk` taken (no more spans go in): it leaves the queue and its bounds. */
  take(chunk: Chunk): void {
    chunk.taken = true
    chunk.sealed = true
    this.lastChunkBytes = chunk.length - chunk.reserve
    const group = chunk.group
    const index = group.chunks.indexOf(chunk)
    if (index >= 0) {
      group.chunks.splice(index, 1)
      this.unqueue(group, chunk.count, chunk.bytes)
    }
  }

  /** The request body of a taken chunk, framed in place in front of its spans. */
  body(chunk: Chunk): Uint8Array {
    const start = frameRequestInPlace(this.options.envelope, chunk.buf, chunk.spansStart, chunk.length)
    return chunk.buf.subarray(start, chunk.length)
  }

  /** Ends `chunk`: its spans are counted by the caller; its memory is released. */
  settle(chunk: Chunk): void {
    chunk.settled = true
    chunk.buf = EMPTY
    this.unsettled.delete(chunk)
  }

  /** Closing: what is still queued is lost (counted failed); later spans are dropped. */
  close(): number {
    this.closed = true
    let lost = 0
    for (const group of this.groups.values()) {
      for (const chunk of group.chunks) {
        lost += chunk.count
        this.settle(chunk)
      }
      group.chunks.length = 0
      group.registered = false
    }
    this.groups.clear()
    this.groupsQueued = 0
    this.queuedSpans = 0
    this.queuedBytes = 0
    this.counters.failed += lost
    return lost
  }

  private groupOf(routing: RoutingMetadata): Group {
    // Spans of one trace share their routing object: most lookups end here.
    if (routing === this.lastRouting && this.lastGroup!.registered) return this.lastGroup!
    let key: string
    try {
      key = routing.groupKey()
    } catch {
      key = INVALID_KEY
    }
    let group = this.groups.get(key)
    if (group === undefined) {
      group = new Group(key, key === INVALID_KEY ? undefined : headerOf(routing))
      this.groups.set(key, group)
    }
    this.lastRouting = routing
    this.lastGroup = group
    return group
  }

  /**
   * The fair share: a group under it (the bound divided by the groups with queued spans) makes
   * room by dropping the oldest spans of the group holding the most; a group at or over it cannot.
   */
  private makeRoom(group: Group, size: number): boolean {
    if (size > this.maxBytes) return false
    const groups = this.groupsQueued + (group.spans === 0 ? 1 : 0)
    const spansFull = this.queuedSpans + 1 > this.maxSpans
    const bytesFull = this.queuedBytes + size > this.maxBytes
    if (spansFull && group.spans >= this.maxSpans / groups) return false
    if (bytesFull && group.bytes >= this.maxBytes / groups) return false
    while (this.queuedSpans + 1 > this.maxSpans) {
      const victim = this.largest(group, "spans")
      if (victim === undefined) return false
      this.dropOldest(victim, 1, 0)
    }
    while (this.queuedBytes + size > this.maxBytes) {
      const victim = this.largest(group, "bytes")
      if (victim === undefined) return false
      this.dropOldest(victim, Number.POSITIVE_INFINITY, this.queuedBytes + size - this.maxBytes)
    }
    return true
  }

  private largest(except: Group, by: "spans" | "bytes"): Group | undefined {
    let best: Group | undefined
    for (const group of this.groups.values()) {
      if (group !== except && group[by] > 0 && (best === undefined || group[by] > best[by])) best = group
    }
    return best
  }

  /** Drops the oldest queued spans of `group`: `spans` of them, or until `bytes` are freed. */
  private dropOldest(group: Group, spans: number, bytes: number): void {
    let droppedSpans = 0
    let droppedBytes = 0
    while (bytes > 0 ? droppedBytes < bytes : droppedSpans < spans) {
      const chunk = group.chunks[0]
      if (chunk === undefined) break
      const start = chunk.spansStart
      chunk.first++
      droppedSpans++
      droppedBytes += chunk.spansStart - start
      if (chunk.count === 0) {
        group.chunks.shift()
        this.settle(chunk)
      }
    }
    this.counters.dropped += droppedSpans
    this.unqueue(group, droppedSpans, droppedBytes)
  }

  private unqueue(group: Group, spans: number, bytes: number): void {
    if (spans === 0) return
    group.spans -= spans
    group.bytes -= bytes
    this.queuedSpans -= spans
    this.queuedBytes -= bytes
    if (group.spans === 0) {
      this.groupsQueued--
      // An idle group is forgotten, so that a stream of one-off routing values cannot grow the map.
      if (group.chunks.length === 0) {
        group.registered = false
        this.groups.delete(group.key)
      }
    }
  }

  /** The group's chunk that spans still go into, if any. */
  private openChunk(group: Group): Chunk | undefined {
    const last = group.chunks.length === 0 ? undefined : group.chunks[group.chunks.length - 1]
    return last === undefined || last.sealed ? undefined : last
  }

  /** A new open chunk for `group`, starting with the `size` bytes at `start` of `source`. */
  private newChunk(group: Group, source: Uint8Array, start: number, size: number): Chunk {
    const reserve = this.options.envelope.maxOverhead
    // Sized like the last chunk that was taken or filled: under load chunks fill alike, so the
    // buffer seldom grows, and sealing seldom copies it.
    const capacity = reserve + Math.max(size, Math.min(Math.max(MIN_CAPACITY, this.lastChunkBytes), this.maxChunkBytes))
    const chunk = new Chunk(++this.lastChunkId, group, reserve, capacity)
    chunk.buf.set(source.subarray(start, start + size), reserve)
    group.chunks.push(chunk)
    this.unsettled.add(chunk)
    this.options.offer(chunk)
    return chunk
  }

  /** No more spans go in; a buffer with more than 1/8 unused is cut to what it holds. */
  private seal(chunk: Chunk): void {
    if (chunk.sealed) return
    chunk.sealed = true
    this.lastChunkBytes = chunk.length - chunk.reserve
    // A copy: `Buffer`'s own `slice` is a view, which would keep the whole buffer.
    if (chunk.buf.length - chunk.length > chunk.length >> 3) {
      chunk.buf = Uint8Array.prototype.slice.call(chunk.buf, 0, chunk.length)
    }
  }
}
