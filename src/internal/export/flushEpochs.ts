/**
 * @internal
 * What a flush waits for, counted by epoch: each chunk belongs to the epoch it was created in, a
 * flush closes the current epoch and waits until no chunk of it or of an earlier one is left.
 * Chunks may end in any order.
 */
export class FlushEpochs {
  /** The epoch of chunks created now. */
  current = 0
  /** `unsettled[i]` counts the chunks of epoch `oldest + i` not settled. */
  private oldest = 0
  private readonly unsettled: Array<number> = [0]
  private total = 0

  /** A chunk was created in the current epoch. */
  opened(): void {
    this.unsettled[this.unsettled.length - 1]++
    this.total++
  }

  /** A chunk of `epoch` was settled; `true` when that let the oldest epoch with chunks left move on. */
  settled(epoch: number): boolean {
    this.unsettled[epoch - this.oldest]--
    this.total--
    if (this.unsettled[0] !== 0 || this.oldest === this.current) return false
    while (this.oldest < this.current && this.unsettled[0] === 0) {
      this.unsettled.shift()
      this.oldest++
    }
    return true
  }

  /** The epoch a flush waits for, or `undefined` when no chunk is left. */
  point(): number | undefined {
    if (this.total === 0) return undefined
    // No chunk since the last flush point: that one covers this flush too.
    if (this.unsettled[this.unsettled.length - 1] === 0) return this.current - 1
    this.unsettled.push(0)
    return this.current++
  }

  isThrough(epoch: number): boolean {
    return this.total === 0 || this.oldest > epoch
  }
}
