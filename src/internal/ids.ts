import { randomFillSync } from "node:crypto"

// Ids are cut from a pool of CSPRNG bytes refilled 4 KiB at a time: one syscall per ~256 spans,
// and ids stay unpredictable (W3C Level 2 "random" flag) without a hand-rolled generator. The
// pool is turned into hex once per refill and ids are slices of that string: a third of the cost
// of one `toString("hex")` per id.
const POOL_SIZE = 4096
const pool = Buffer.allocUnsafe(POOL_SIZE)
let poolHex = ""
let offset = POOL_SIZE

const take = (bytes: number): number => {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool)
    poolHex = pool.toString("hex")
    offset = 0
  }
  const start = offset
  offset += bytes
  return start
}

const isZero = (start: number, bytes: number): boolean => {
  for (let i = start; i < start + bytes; i++) {
    if (pool[i] !== 0) return false
  }
  return true
}

const randomHex = (bytes: number): string => {
  let start = take(bytes)
  // An all-zero id is invalid in W3C Trace Context; draw again (probability 2^-64 or less).
  while (isZero(start, bytes)) start = take(bytes)
  return poolHex.slice(2 * start, 2 * (start + bytes))
}

/** @internal a random, non-zero 128-bit trace id as 32 lowercase hex characters */
export const generateTraceId = (): string => randomHex(16)

/** @internal a random, non-zero 64-bit span id as 16 lowercase hex characters */
export const generateSpanId = (): string => randomHex(8)
