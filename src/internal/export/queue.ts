/**
 * @internal
 * The export queue, in plain synchronous code, owning every count of the export path. Each
 * finished span is encoded at once into the open chunk of its routing group (the span record is
 * not kept); workers `take` chunks, send them, and `finish` them with what became of their spans.
 * The span and byte bounds hold with a fair share per group; the byte bound counts what is
 * allocated (chunk capacity, routing values, the objects that hold them), not only what is written.
 */
import type { FinishedUserSpan } from "../../UserSpan.js"
import { Chunk, ChunkList, type Group, GroupHeap } from "./chunk.js"
import { frameRequestInPlace, type RequestEnvelope } from "./encoding.js"
import { FlushEpochs } from "./flushEpochs.js"
import { type Notice, RoutingGroups } from "./routingGroups.js"
import { spanSizeBound, writeSpan, writeSpanToScratch } from "./spanEncoding.js"
import { SpareBuffers } from "./spareBuffers.js"

export { Chunk, Group } from "./chunk.js"
export { MAX_IDLE_GROUPS, type Notice } from "./routingGroups.js"

/** @internal what became of the spans finished so far */
export interface Counters {
  total: number
  dropped: number
  exported: number
  failed: number
}

/** @internal what closing found still unsent, counted failed */
export interface Leftover {
  readonly queuedSpans: number
  readonly inFlightRequests: number
  readonly inFlightSpans: number
}

/** @internal */
export interface ExportQueueOptions {
  readonly envelope: RequestEnvelope
  readonly maxQueueSize: number | null
  readonly maxQueueBytes: number | null
  readonly maxBatchSize: number
  readonly maxBatchBytes: number
  readonly maxRoutingValueBytes: number
  /** Called when a flush epoch is through: every chunk created in it or before is settled. */
  readonly onFlushed: () => void
  /**
   * Hands work to the workers: each new chunk when it is created (it fills until a worker begins
   * it), and `NOTICES` when there is something to log. Must not block nor throw.
   */
  readonly handOff: (work: Chunk | typeof NOTICES) => void
}

/** @internal the work that says: notices to log (`takeNotices`) */
export const NOTICES = "notices" as const

/**
 * @internal
 * What a queued chunk's objects hold besides its buffer's capacity (the chunk, the `Buffer` and its
 * `ArrayBuffer`): V8's sizes on 64-bit Node, rounded up. Counted in the byte bound.
 */
export const CHUNK_OBJECT_BYTES = 512

/**
 * A new group's first chunk holds this many span bytes; it grows by doubling. Room for a few spans:
 * a request's spans (a root and its children) then need no second buffer.
 */
const MIN_CHUNK_BYTES = 1024
const zero = (): Counters => ({ total: 0, dropped: 0, exported: 0, failed: 0 })

/**
 * @internal
 * `add` never blocks and never throws. `take` hands a worker the oldest queued chunk, which then
 * leaves the bounds (a worker has at most a few in flight); `finish` counts what became of it. A
 * flush asks for a `flushPoint` and waits until `isFlushedThrough` it. Groups with nothing queued
 * or in flight are kept in a bounded set of idle groups: memory does not grow with the number of
 * routing values ever seen.
 */
export class ExportQueue {
  /** Spans queued (in chunks not taken). */
  queuedSpans = 0
  /** Bytes allocated for queued spans: their chunks (capacity and objects) and their groups (routing values and objects). */
  allocated = 0
  closed = false

  private counters = zero()
  private readonly totals = zero()
  private readonly groups: RoutingGroups
  private groupsQueued = 0
  private bySpans: GroupHeap | undefined
  private byBytes: GroupHeap | undefined
  /** Queued chunks, oldest first: what workers take. */
  private readonly queued = new ChunkList()
  private inFlightChunks = 0
  private inFlightSpans = 0

  private readonly epochs = new FlushEpochs()

  private readonly maxSpans: number
  private readonly maxBytes: number
  private readonly reserve: number
  /** Span bytes one chunk may hold so that its request stays within `maxBatchBytes`. */
  private readonly maxChunkBytes: number
  /** The first capacity of a new group's chunk. */
  private readonly smallChunk: number
  private readonly spares: SpareBuffers

  constructor(private readonly options: ExportQueueOptions) {
    this.maxSpans = options.maxQueueSize ?? Number.POSITIVE_INFINITY
    this.maxBytes = options.maxQueueBytes ?? Number.POSITIVE_INFINITY
    this.reserve = options.envelope.maxOverhead
    this.maxChunkBytes = Math.max(0, options.maxBatchBytes - this.reserve)
    this.smallChunk = this.reserve + Math.min(MIN_CHUNK_BYTES, this.maxChunkBytes)
    this.spares = new SpareBuffers(this.smallChunk)
    this.bySpans = options.maxQueueSize === null ? undefined : new GroupHeap(true)
    this.byBytes = options.maxQueueBytes === null ? undefined : new GroupHeap(false)
    this.groups = new RoutingGroups(options.maxRoutingValueBytes, () => options.handOff(NOTICES))
  }

  /** Routing groups known: those with spans queued or in flight, and at most `MAX_IDLE_GROUPS` idle ones. */
  get groupCount(): number {
    return this.groups.size
  }

  // Adding -------------------------------------------------------------------------------------

  /** Encodes `span` into its group's open chunk, making room or dropping it when a bound is reached. */
  add(span: FinishedUserSpan): void {
    this.counters.total++
    if (this.closed) {
      this.counters.dropped++
      return
    }
    const group = this.groups.groupOf(span.routing)
    if (group === undefined) {
      this.counters.failed++
      return
    }
    // The span bound is reached and the group holds its share: the span is dropped whatever its
    // size, so it is not encoded.
    if (this.queuedSpans >= this.maxSpans && group.spans >= this.maxSpans / this.groupsWith(group)) {
      this.counters.dropped++
      return
    }
    // Written where it will stay, after the open chunk's spans, when the chunk has room for its
    // bound; else written into the scratch buffer and copied into the chunk made or grown for it.
    const open = this.openChunk(group)
    let source: Uint8Array
    let start = 0
    let size: number
    try {
      const bound = spanSizeBound(span)
      if (open !== undefined && open.length + bound <= open.buf.length) {
        source = open.buf
        start = open.length
        size = writeSpan(source, start, span) - start
      } else {
        const written = writeSpanToScratch(span, bound)
        source = written.buf
        size = written.size
      }
    } catch {
      // Finishing a span must never throw: a span that cannot be encoded is lost, and counted.
      // What it wrote lies past the chunk's length, where the next span overwrites it.
      this.counters.failed++
      // A group made for this span, which holds nothing: among the idle ones, not known for ever.
      this.groups.retireIfIdle(group)
      return
    }
    this.place(group, open, source, start, size)
  }

  /**
   * Queues the span of `size` bytes at `start` of `source`: where it is, when that is the end of
   * the open chunk with room in the bounds; else in a chunk made or grown for it.
   */
  private place(group: Group, open: Chunk | undefined, source: Uint8Array, start: number, size: number): void {
    if (open === undefined) {
      this.startChunk(group, source, start, size)
    } else if (open.bytes + size > this.maxChunkBytes) {
      // Full: the span moves to a new chunk.
      this.seal(open)
      this.startChunk(group, source, start, size)
    } else if (source !== open.buf || start !== open.length) {
      // Written aside because its bound did not fit: it may fit all the same.
      if (open.length + size > open.buf.length) return this.grow(group, open, source, start, size)
      if (this.queuedSpans >= this.maxSpans && !this.makeRoom(group, 0)) {
        this.counters.dropped++
        return
      }
      open.buf.set(source.subarray(start, start + size), open.length)
      this.append(group, open, size)
    } else if (this.queuedSpans < this.maxSpans || this.makeRoom(group, 0)) {
      this.append(group, open, size)
    } else {
      this.counters.dropped++
    }
  }

  /** A new chunk for `group` holding the `size` bytes at `start` of `source`, if the bounds allow. */
  private startChunk(group: Group, source: Uint8Array, start: number, size: number): void {
    const entering = group.chunks.length === 0
    const extra = CHUNK_OBJECT_BYTES + (entering ? group.ownBytes : 0)
    const needed = this.reserve + size
    // A new group starts small; a known one at the size its last chunk reached.
    const wanted = this.reserve +
      Math.max(size, Math.min(Math.max(MIN_CHUNK_BYTES, group.lastChunkBytes), this.maxChunkBytes))
    // At least the small size (room is made for it, within the bound), more only where the byte
    // bound leaves room.
    const room = this.maxBytes - this.allocated - extra
    const floor = Math.min(this.smallChunk, this.maxBytes - extra)
    const wantedCapacity = Math.max(needed, Math.min(wanted, Math.max(floor, room)))
    if (!this.admit(group, wantedCapacity + extra)) {
      this.counters.dropped++
      // A group made for this span, which holds nothing: among the idle ones, not known for ever.
      if (entering) this.groups.retireIfIdle(group)
      return
    }
    // A kept buffer may be somewhat larger: what it holds is counted, within the bound.
    const buf = this.spares.take(wantedCapacity, this.maxBytes - this.allocated - extra)
    const capacity = buf.length
    const chunk = new Chunk(group, this.reserve, buf, this.epochs.current)
    buf.set(source.subarray(start, start + size), this.reserve)
    group.chunks.push(chunk)
    this.queued.push(chunk)
    this.epochs.opened()
    group.bytes += capacity + extra
    this.allocated += capacity + extra
    if (entering) {
      this.groups.activate(group)
      this.groupsQueued++
      this.bySpans?.insert(group)
      this.byBytes?.insert(group)
    } else {
      this.byBytes?.up(group)
    }
    this.append(group, chunk, size)
    this.options.handOff(chunk)
  }

  /** `open`'s buffer has no room for the span of `size` bytes at `start` of `source`: a larger buffer, if the bounds allow. */
  private grow(group: Group, open: Chunk, source: Uint8Array, start: number, size: number): void {
    const needed = open.length + size
    // Doubling, but no further than the rest of a batch at the chunk's mean span size and an
    // eighth more: a chunk near its span bound grows by what it can still take, not into room
    // that `seal` would then cut away with another copy.
    const spans = open.count + 1
    const rest = Math.max(0, this.options.maxBatchSize - spans)
    const expected = needed + Math.ceil((rest * (needed - open.spansStart) * 9) / (8 * spans))
    const wanted = Math.min(
      Math.max(Math.min(2 * open.buf.length, expected), needed),
      this.reserve + this.maxChunkBytes
    )
    const capacity = this.fit(needed, wanted)
    if (!this.admit(group, capacity - open.buf.length)) {
      this.counters.dropped++
      return
    }
    const buf = this.spares.take(capacity, this.maxBytes - this.allocated + open.buf.length)
    const charge = buf.length - open.buf.length
    buf.set(open.buf.subarray(0, open.length))
    buf.set(source.subarray(start, start + size), open.length)
    // Never sent: nothing else holds it.
    this.spares.give(open.buf)
    open.buf = buf
    group.bytes += charge
    this.allocated += charge
    this.byBytes?.up(group)
    this.append(group, open, size)
  }

  /** `wanted` bytes of capacity, or less when the byte bound leaves less room, but at least `needed`. */
  private fit(needed: number, wanted: number): number {
    return Math.max(needed, Math.min(wanted, this.maxBytes - this.allocated))
  }

  private admit(group: Group, charge: number): boolean {
    return (this.queuedSpans < this.maxSpans && this.allocated + charge <= this.maxBytes) ||
      this.makeRoom(group, charge)
  }

  /** The span of `size` bytes written at the end of `chunk`'s spans is queued. */
  private append(group: Group, chunk: Chunk, size: number): void {
    chunk.length += size
    chunk.appended++
    group.spans++
    this.queuedSpans++
    if (group.spansRank > 0) this.bySpans!.up(group)
    if (chunk.appended >= this.options.maxBatchSize) this.seal(chunk)
  }

  // The fair share ---------------------------------------------------------------------------

  /**
   * A group under its fair share (the bound divided by the groups with queued spans) makes room
   * by dropping the oldest spans of the group holding the most; a group at or over it cannot.
   * For bytes, whole chunks are dropped: that is what frees memory.
   */
  private makeRoom(group: Group, charge: number): boolean {
    if (charge > this.maxBytes) return false
    const groups = this.groupsWith(group)
    const spansFull = this.queuedSpans + 1 > this.maxSpans
    const bytesFull = this.allocated + charge > this.maxBytes
    if (spansFull && group.spans >= this.maxSpans / groups) return false
    if (bytesFull && group.bytes >= this.maxBytes / groups) return false
    while (this.queuedSpans + 1 > this.maxSpans) {
      const victim = this.bySpans!.heaviest(group)
      if (victim === undefined) return false
      this.dropOldestSpan(victim)
    }
    while (this.allocated + charge > this.maxBytes) {
      const victim = this.byBytes!.heaviest(group)
      if (victim === undefined) return false
      const chunk = this.unqueueOldest(victim)
      this.counters.dropped += chunk.count
      this.discard(chunk)
      this.groups.retireIfIdle(victim)
    }
    return true
  }

  /** The groups with queued spans, `group` counted in. */
  private groupsWith(group: Group): number {
    return this.groupsQueued + (group.chunks.length === 0 ? 1 : 0)
  }

  private dropOldestSpan(victim: Group): void {
    const chunk = victim.chunks[0]
    chunk.dropFirst()
    this.counters.dropped++
    victim.spans--
    this.queuedSpans--
    if (chunk.count > 0) {
      this.bySpans!.down(victim)
      return
    }
    this.unqueueOldest(victim)
    this.discard(chunk)
    this.groups.retireIfIdle(victim)
  }

  /** Settles a chunk dropped before it was sent: nothing else holds its buffer, which is kept for another chunk. */
  private discard(chunk: Chunk): void {
    this.spares.give(chunk.buf)
    this.settle(chunk)
  }

  // Taking and finishing ------------------------------------------------------------------------

  /** The oldest queued chunk, if any, without taking it. */
  peek(): Chunk | undefined {
    return this.queued.head
  }

  /**
   * Begins sending `chunk` (handed to a worker): it is sealed and leaves the queue and its bounds.
   * `false` when it is no longer queued (dropped to make room, or the queue closed): nothing to send.
   */
  begin(chunk: Chunk): boolean {
    if (chunk.state !== "queued" || this.closed) return false
    const group = chunk.group
    chunk.sealed = true
    chunk.state = "inFlight"
    group.lastChunkBytes = chunk.length - chunk.reserve
    group.inFlight++
    this.inFlightChunks++
    this.inFlightSpans += chunk.count
    this.unqueue(group, chunk)
    return true
  }

  /** Begins the oldest queued chunk, if any. */
  take(): Chunk | undefined {
    const chunk = this.queued.head
    return chunk !== undefined && this.begin(chunk) ? chunk : undefined
  }

  /** The request body of a taken chunk, framed in place in front of its spans. */
  body(chunk: Chunk): Uint8Array {
    const start = frameRequestInPlace(this.options.envelope, chunk.buf, chunk.spansStart, chunk.length)
    return chunk.buf.subarray(start, chunk.length)
  }

  /**
   * Ends a taken chunk with what became of its spans, and releases its memory. Only the first call
   * counts; after `close` its spans were already counted failed. `reusable`: nothing holds the
   * chunk's buffer any more (its request was answered and the transport no longer reads it), which
   * is then kept for another chunk.
   */
  finish(chunk: Chunk, exported: number, failed: number, reusable = false): void {
    if (chunk.state !== "inFlight") return
    if (reusable && !this.closed) this.spares.give(chunk.buf)
    const group = chunk.group
    if (!this.closed) {
      this.counters.exported += exported
      this.counters.failed += failed
      group.inFlight--
      this.inFlightChunks--
      this.inFlightSpans -= chunk.count
    }
    this.settle(chunk)
    this.groups.retireIfIdle(group)
  }

  // Flushing, counting, closing ---------------------------------------------------------------

  /** The epoch a flush waits for, or `undefined` when nothing is queued or in flight. */
  flushPoint(): number | undefined {
    return this.closed ? undefined : this.epochs.point()
  }

  isFlushedThrough(epoch: number): boolean {
    return this.closed || this.epochs.isThrough(epoch)
  }

  /** What happened since the last call; added to the totals. */
  drainCounters(): Counters {
    const drained = this.counters
    this.counters = zero()
    this.totals.total += drained.total
    this.totals.dropped += drained.dropped
    this.totals.exported += drained.exported
    this.totals.failed += drained.failed
    return drained
  }

  /** Everything since the queue was made. */
  lifetime(): Counters {
    return {
      total: this.totals.total + this.counters.total,
      dropped: this.totals.dropped + this.counters.dropped,
      exported: this.totals.exported + this.counters.exported,
      failed: this.totals.failed + this.counters.failed
    }
  }

  get hasNotices(): boolean {
    return this.groups.hasNotices
  }

  takeNotices(): Array<Notice> {
    return this.groups.takeNotices()
  }

  /** Closing: what is still queued or in flight is lost (counted failed); later spans are dropped. */
  close(): Leftover {
    if (this.closed) return { queuedSpans: 0, inFlightRequests: 0, inFlightSpans: 0 }
    let queuedSpans = 0
    for (let chunk = this.queued.head; chunk !== undefined; chunk = chunk.next) {
      queuedSpans += chunk.count
      chunk.release()
    }
    const leftover = { queuedSpans, inFlightRequests: this.inFlightChunks, inFlightSpans: this.inFlightSpans }
    this.counters.failed += queuedSpans + this.inFlightSpans
    this.closed = true
    this.queued.clear()
    this.spares.clear()
    this.groups.close()
    this.bySpans = this.bySpans && new GroupHeap(true)
    this.byBytes = this.byBytes && new GroupHeap(false)
    this.groupsQueued = this.queuedSpans = this.allocated = 0
    this.inFlightChunks = this.inFlightSpans = 0
    this.options.onFlushed()
    return leftover
  }

  // Groups and chunks -------------------------------------------------------------------------

  /** The group's chunk that spans still go into, if any. */
  private openChunk(group: Group): Chunk | undefined {
    const chunks = group.chunks
    const last = chunks.length === 0 ? undefined : chunks[chunks.length - 1]
    return last === undefined || last.sealed ? undefined : last
  }

  /** Takes `group`'s oldest chunk off the queue: its spans and bytes leave the bounds. */
  private unqueueOldest(group: Group): Chunk {
    return this.unqueue(group, group.chunks[0])
  }

  /** Takes `chunk` (of `group`: its oldest, but for a worker that waited a turn) off the queue. */
  private unqueue(group: Group, chunk: Chunk): Chunk {
    const index = group.chunks[0] === chunk ? 0 : group.chunks.indexOf(chunk)
    group.chunks.splice(index, 1)
    this.queued.remove(chunk)
    const spans = chunk.count
    const capacity = chunk.buf.length + CHUNK_OBJECT_BYTES
    group.spans -= spans
    group.bytes -= capacity
    this.queuedSpans -= spans
    this.allocated -= capacity
    if (group.chunks.length === 0) {
      group.bytes -= group.ownBytes
      this.allocated -= group.ownBytes
      this.groupsQueued--
      this.bySpans?.remove(group)
      this.byBytes?.remove(group)
    } else {
      this.bySpans?.down(group)
      this.byBytes?.down(group)
    }
    return chunk
  }

  /** No more spans go in; a buffer with more than 1/8 unused is cut to what it holds. */
  private seal(chunk: Chunk): void {
    if (chunk.sealed) return
    chunk.sealed = true
    const group = chunk.group
    group.lastChunkBytes = chunk.length - chunk.reserve
    const unused = chunk.buf.length - chunk.length
    if (unused > chunk.length >> 3) {
      const cut = this.spares.take(chunk.length, chunk.length + (chunk.length >> 3))
      cut.set(chunk.buf.subarray(0, chunk.length))
      // Not sent yet: nothing else holds it.
      this.spares.give(chunk.buf)
      const freed = chunk.buf.length - cut.length
      chunk.buf = cut
      group.bytes -= freed
      this.allocated -= freed
      this.byBytes?.down(group)
    }
  }

  /** Ends `chunk` (exported, failed or dropped): its memory is released, and flushes may move on. */
  private settle(chunk: Chunk): void {
    chunk.release()
    if (!this.closed && this.epochs.settled(chunk.epoch)) this.options.onFlushed()
  }
}
