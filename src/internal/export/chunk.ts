/**
 * @internal
 * What the export queue holds: routing groups, and the chunks of encoded spans each group sends
 * together.
 */

/** @internal a chunk's place in its life */
export type ChunkState = "queued" | "inFlight" | "settled"

const EMPTY = new Uint8Array(0)

/** @internal the spans of one routing group waiting to be sent together, encoded */
export class Chunk {
  /** `buf[reserve..length]` holds the spans' bytes; the request envelope is framed in front of them. */
  buf: Uint8Array
  length: number
  /** Spans appended, those dropped since included. */
  appended = 0
  /** Spans dropped from its front to make room for other groups. */
  first = 0
  /**
   * Where its first span not dropped starts. A span's extent is read from its own encoding (a
   * `ScopeSpans.spans` tag and its length), so the chunk keeps no offset per span: that array,
   * alive while the chunk waits and is sent, was most of what the export path promoted to V8's old
   * space.
   */
  spansStart: number
  /** No more spans go in: full, or taken by a worker. */
  sealed = false
  state: ChunkState = "queued"
  /** Neighbours in the queue's list of queued chunks (oldest first), while queued. */
  previous: Chunk | undefined = undefined
  next: Chunk | undefined = undefined

  constructor(
    readonly group: Group,
    readonly reserve: number,
    /**
     * Not zero-filled (every byte sent is written first), not from Node's shared pool (its capacity
     * is what it holds).
     */
    buf: Uint8Array,
    /** The flush epoch the chunk was created in: a flush waits for the chunks of its epoch and before. */
    readonly epoch: number
  ) {
    this.buf = buf
    this.length = reserve
    this.spansStart = reserve
  }

  /** Drops its first span (there is one): the next one starts after it. */
  dropFirst(): void {
    const buf = this.buf
    // A one-byte tag, then the length as a varint.
    let pos = this.spansStart + 1
    let length = 0
    let shift = 0
    let byte: number
    do {
      byte = buf[pos++]
      length += (byte & 0x7f) * 2 ** shift
      shift += 7
    } while (byte >= 0x80)
    this.spansStart = pos + length
    this.first++
  }

  get count(): number {
    return this.appended - this.first
  }
  get bytes(): number {
    return this.length - this.spansStart
  }

  /** Its memory is released; the object may still be referenced by a worker. */
  release(): void {
    this.state = "settled"
    this.buf = EMPTY
  }
}

/** @internal the queued chunks of every group, oldest first: what workers take */
export class ChunkList {
  head: Chunk | undefined = undefined
  private tail: Chunk | undefined = undefined

  push(chunk: Chunk): void {
    const tail = this.tail
    chunk.previous = tail
    if (tail === undefined) this.head = chunk
    else tail.next = chunk
    this.tail = chunk
  }

  remove(chunk: Chunk): void {
    const previous = chunk.previous
    const next = chunk.next
    if (previous === undefined) this.head = next
    else previous.next = next
    if (next === undefined) this.tail = previous
    else next.previous = previous
    chunk.previous = chunk.next = undefined
  }

  clear(): void {
    this.head = this.tail = undefined
  }
}

/** @internal one routing group: its header, its queued chunks (oldest first), and what it holds */
export class Group {
  readonly chunks: Array<Chunk> = []
  /** Queued spans. */
  spans = 0
  /** Bytes allocated for its queued spans: its queued chunks and, while it has one, `ownBytes`. */
  bytes = 0
  /** Chunks taken by a worker and not finished. */
  inFlight = 0
  /** Its positions in the fair share's heaps, or -1. */
  spansRank = -1
  bytesRank = -1
  /** The span bytes of its last chunk taken or sealed: its next chunk's first capacity. */
  lastChunkBytes = 0
  /** Nothing queued nor in flight: in the queue's list of idle groups, between these two. */
  idle = false
  idlePrevious: Group | undefined = undefined
  idleNext: Group | undefined = undefined

  constructor(
    readonly key: string,
    /** The routing header value, checked: a legal header value within the routing value limit. */
    readonly header: string,
    /** What it holds itself (its objects, its key and header), counted while it has queued spans. */
    readonly ownBytes: number
  ) {}
}

/**
 * @internal
 * The groups with queued spans, heaviest first by one measure (spans or bytes): a binary max-heap
 * with each group's position kept on the group, so that the fair share finds the heaviest group,
 * and follows a group's change, in O(log groups).
 */
export class GroupHeap {
  private readonly items: Array<Group> = []

  constructor(private readonly bySpans: boolean) {}

  get size(): number {
    return this.items.length
  }

  private weight(group: Group): number {
    return this.bySpans ? group.spans : group.bytes
  }
  private place(group: Group, rank: number): void {
    this.items[rank] = group
    if (this.bySpans) group.spansRank = rank
    else group.bytesRank = rank
  }
  private rank(group: Group): number {
    return this.bySpans ? group.spansRank : group.bytesRank
  }

  insert(group: Group): void {
    this.place(group, this.items.length)
    this.up(group)
  }

  remove(group: Group): void {
    const rank = this.rank(group)
    if (rank < 0) return
    const last = this.items.pop()!
    if (this.bySpans) group.spansRank = -1
    else group.bytesRank = -1
    if (last === group) return
    this.place(last, rank)
    this.down(last)
    this.up(last)
  }

  /** After `group`'s weight grew. */
  up(group: Group): void {
    let rank = this.rank(group)
    const weight = this.weight(group)
    while (rank > 0) {
      const parentRank = (rank - 1) >> 1
      const parent = this.items[parentRank]
      if (this.weight(parent) >= weight) break
      this.place(parent, rank)
      rank = parentRank
    }
    this.place(group, rank)
  }

  /** After `group`'s weight shrank. */
  down(group: Group): void {
    const items = this.items
    const size = items.length
    let rank = this.rank(group)
    const weight = this.weight(group)
    for (;;) {
      const left = 2 * rank + 1
      if (left >= size) break
      const right = left + 1
      const child = right < size && this.weight(items[right]) > this.weight(items[left]) ? right : left
      if (this.weight(items[child]) <= weight) break
      this.place(items[child], rank)
      rank = child
    }
    this.place(group, rank)
  }

  /** The heaviest group other than `except`, if any. */
  heaviest(except: Group): Group | undefined {
    const items = this.items
    const top = items[0]
    if (top !== except) return top
    const left = items[1]
    const right = items[2]
    return right === undefined || (left !== undefined && this.weight(left) >= this.weight(right)) ? left : right
  }
}
