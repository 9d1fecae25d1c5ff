/**
 * @internal
 * Chunk buffers that nothing holds any more, kept for the next chunks. Every `ArrayBuffer` counts
 * as external memory to V8, and its growth makes V8 collect the old generation early: with a new
 * buffer for every request, a busy exporter's full collections came several times as often.
 *
 * A buffer comes back only when nothing can still read it: a chunk dropped or outgrown before it
 * was sent, or a sent chunk whose request was answered once the transport no longer holds it: every
 * request it was sent in ended in undici, and every connection wrote out what it was handed (a
 * receiver may answer before it has read a whole body; the bytes still to write are the buffer's
 * own, and must not become another chunk's spans).
 */

/** New groups' first buffers kept: a flood of tenants through a full queue replaces one such chunk by another for each new tenant. */
const MAX_SMALL = 64
/** Larger buffers kept: a busy exporter replaces the buffer of each request it ends by the next chunk's. */
const MAX_LARGE = 2
/** A kept buffer serves a chunk that wants at most this much less: a much larger one would hold memory for nothing. */
const LARGE_SLACK_DIVISOR = 2

/** @internal */
export class SpareBuffers {
  private readonly small: Array<Uint8Array> = []
  private readonly large: Array<Uint8Array> = []

  /** `smallSize`: the capacity of a new group's first chunk. */
  constructor(private readonly smallSize: number) {}

  /**
   * A buffer of `capacity` bytes, or of up to `limit` (at least `capacity`) when a kept one of that
   * size is there (its whole length is what the caller then holds); else a new one, not zero-filled
   * (every byte sent is written first) and not from Node's shared pool (its capacity is its own).
   */
  take(capacity: number, limit: number): Uint8Array {
    if (capacity === this.smallSize) {
      if (this.small.length > 0) return this.small.pop()!
    } else {
      const most = Math.min(limit, capacity + Math.floor(capacity / LARGE_SLACK_DIVISOR))
      const large = this.large
      for (let i = large.length - 1; i >= 0; i--) {
        const buf = large[i]
        if (buf.length >= capacity && buf.length <= most) {
          large.splice(i, 1)
          return buf
        }
      }
    }
    return Buffer.allocUnsafeSlow(capacity)
  }

  /** Keeps `buf`, which nothing reads or writes any more, if there is room for it; the oldest large one makes way. */
  give(buf: Uint8Array): void {
    // Only a whole buffer: a view would hand out memory that is not the chunk's.
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength) return
    if (buf.length === this.smallSize) {
      if (this.small.length < MAX_SMALL) this.small.push(buf)
    } else if (buf.length > this.smallSize) {
      if (this.large.length >= MAX_LARGE) this.large.shift()
      this.large.push(buf)
    }
  }

  clear(): void {
    this.small.length = 0
    this.large.length = 0
  }
}
