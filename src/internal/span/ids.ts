import { randomFillSync } from "node:crypto"

// Ids are cut from a pool of CSPRNG bytes refilled 64 KiB at a time: one syscall per ~6,000 spans,
// and ids stay unpredictable (W3C Level 2 "random" flag) without a hand-rolled generator.
//
// A span id is kept as two 32-bit words, not as a string: the encoder
// writes the words as they are, and the hex is made only when something asks for it (a
// `traceparent`, a handle's `spanId`, a test). A hex id per span, then decoded back to bytes by
// the encoder, was a tenth of the cost of a span in a profile.
const POOL_SIZE = 64 * 1024
// Read as 32-bit words: draws are 8 or 16 bytes from offset 0, so an id is whole words. A word is
// the platform's reading of its 4 random bytes, as a signed integer (a small integer to V8: a
// record keeps it unboxed): random either way, and both the hex and the wire bytes are made from
// the word.
const poolWords = new Int32Array(POOL_SIZE / 4)
let offset = POOL_SIZE

const isZero = (start: number, bytes: number): boolean => {
  for (let i = start >>> 2; i < (start + bytes) >>> 2; i++) {
    if (poolWords[i] !== 0) return false
  }
  return true
}

/** The offset of `bytes` fresh random bytes, not all zero (an invalid W3C id; probability 2^-64 or less). */
const draw = (bytes: number): number => {
  for (;;) {
    if (offset + bytes > POOL_SIZE) {
      randomFillSync(poolWords)
      offset = 0
    }
    const start = offset
    offset += bytes
    if (!isZero(start, bytes)) return start
  }
}

/**
 * @internal
 * A trace id as its four words, bytes 0-3, 4-7, 8-11 and 12-15 each read little-endian (hex:
 * `traceIdHex`). Kept as words, not as a `Uint8Array`: a typed array per trace cost more to make
 * than the rest of the root, and the encoder writes words as they are.
 */
export interface TraceIdWords {
  readonly w0: number
  readonly w1: number
  readonly w2: number
  readonly w3: number
}

/**
 * @internal
 * Draws a random, non-zero 128-bit trace id and returns where it is: read it with `idWord(at)`,
 * `idWord(at + 4)`, `idWord(at + 8)` and `idWord(at + 12)` before the next draw.
 */
export const drawTraceId = (): number => draw(16)

/** @internal a span id: its bytes 0-3 and 4-7 as two words read little-endian (hex: `spanIdHex`) */
export interface SpanIdWords {
  readonly idLow: number
  readonly idHigh: number
}

/**
 * @internal
 * Draws a random, non-zero 64-bit span id and returns where it is: read it with `idWord(at)`
 * and `idWord(at + 4)` before the next draw.
 */
export const drawSpanId = (): number => draw(8)

/** @internal the 32-bit word at byte `at` of the pool (see `drawSpanId`) */
export const idWord = (at: number): number => poolWords[at >>> 2]

/** Hex digit values by character code ("0"-"9", "a"-"f", "A"-"F"; anything else counts as 0). */
const HEX_DIGIT = new Uint8Array(128)
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i
for (let i = 0; i < 6; i++) HEX_DIGIT[65 + i] = HEX_DIGIT[97 + i] = 10 + i
const hexDigit = (code: number): number => code < 128 ? HEX_DIGIT[code] : 0

const BYTE_HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

const wordHex = (word: number): string =>
  BYTE_HEX[word & 0xff] + BYTE_HEX[(word >>> 8) & 0xff] + BYTE_HEX[(word >>> 16) & 0xff] + BYTE_HEX[word >>> 24]

/** @internal the 32 lowercase hex characters of a trace id given as words */
export const traceIdHex = (id: TraceIdWords): string =>
  wordHex(id.w0) + wordHex(id.w1) + wordHex(id.w2) + wordHex(id.w3)

/** @internal the hex of a span id given as words */
export const spanIdHex = (idLow: number, idHigh: number): string => wordHex(idLow) + wordHex(idHigh)

/** @internal the byte written as 2 hex characters at `at` */
export const hexByte = (hex: string, at: number): number =>
  hexDigit(hex.charCodeAt(at)) << 4 | hexDigit(hex.charCodeAt(at + 1))

/** The little-endian word of the 4 bytes written as 8 hex characters at `at`. */
const parseWord = (hex: string, at: number): number =>
  hexByte(hex, at) | hexByte(hex, at + 2) << 8 | hexByte(hex, at + 4) << 16 | hexByte(hex, at + 6) << 24

/** @internal the words of a span id that arrived as 16 hex characters (an inbound parent id) */
export const spanIdWords = (hex: string): SpanIdWords => ({ idLow: parseWord(hex, 0), idHigh: parseWord(hex, 8) })

/** @internal the word of a trace id written as 32 hex characters, at word `index` (0-3) */
export const traceIdWord = (hex: string, index: number): number => parseWord(hex, 8 * index)
