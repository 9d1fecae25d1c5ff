/**
 * @internal
 * Protobuf wire primitives that write straight into a byte array at a position and return the
 * position after what they wrote, with the sizes they take (the `*Size` functions) known
 * beforehand. The caller makes sure of the room.
 */

/** @internal the bytes of an unsigned varint below 2^32 */
export const varintSize = (value: number): number =>
  value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5

/** @internal the bytes of a length-delimited field of a `length`-byte body: tag, length, body */
export const fieldSize = (length: number): number => 1 + varintSize(length) + length

/** @internal `source` copied to `pos` (`set` costs less than a loop over a typed array, even for a few bytes) */
export const copy = (buf: Uint8Array, pos: number, source: Uint8Array): number => {
  buf.set(source, pos)
  return pos + source.length
}

/** @internal an unsigned varint below 2^32 */
export const writeVarint = (buf: Uint8Array, pos: number, value: number): number => {
  while (value > 0x7f) {
    buf[pos++] = value & 0x7f | 0x80
    value >>>= 7
  }
  buf[pos++] = value
  return pos
}

/**
 * @internal
 * The UTF-8 length of `text` as `writeUtf8` writes it: a lone surrogate (not valid UTF-8, which a
 * receiver such as the Collector rejects) counts as U+FFFD, 3 bytes, as `TextEncoder` writes it.
 */
export const utf8Length = (text: string): number => {
  const length = text.length
  let bytes = length
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) {
      bytes += 1
    } else if (code >= 0xd800 && code < 0xdc00 && i + 1 < length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two code units, four bytes.
      bytes += 2
      i++
    } else {
      bytes += 2
    }
  }
  return bytes
}

const encoder = new TextEncoder()
/** Longer strings go through `TextEncoder.encodeInto` (native); shorter ones are cheaper in a loop. */
const NATIVE_FROM = 64

/** @internal writes `text` as UTF-8 (`bytes` from `utf8Length`): lone surrogates as U+FFFD */
export const writeUtf8 = (buf: Uint8Array, pos: number, text: string, bytes: number): number => {
  const length = text.length
  if (length >= NATIVE_FROM) {
    encoder.encodeInto(text, buf.subarray(pos, pos + bytes))
    return pos + bytes
  }
  if (bytes === length) {
    for (let i = 0; i < length; i++) buf[pos++] = text.charCodeAt(i)
    return pos
  }
  for (let i = 0; i < length; i++) {
    let code = text.charCodeAt(i)
    if (code < 0x80) {
      buf[pos++] = code
    } else if (code < 0x800) {
      buf[pos++] = code >> 6 | 0xc0
      buf[pos++] = code & 0x3f | 0x80
    } else {
      if ((code & 0xf800) === 0xd800) {
        const next = i + 1 < length ? text.charCodeAt(i + 1) : 0
        if (code < 0xdc00 && (next & 0xfc00) === 0xdc00) {
          code = 0x10000 + ((code & 0x3ff) << 10) + (next & 0x3ff)
          i++
          buf[pos++] = code >> 18 | 0xf0
          buf[pos++] = code >> 12 & 0x3f | 0x80
          buf[pos++] = code >> 6 & 0x3f | 0x80
          buf[pos++] = code & 0x3f | 0x80
          continue
        }
        code = 0xfffd
      }
      buf[pos++] = code >> 12 | 0xe0
      buf[pos++] = code >> 6 & 0x3f | 0x80
      buf[pos++] = code & 0x3f | 0x80
    }
  }
  return pos
}

// A view of the buffer last written a fixed-width value into: spans are written one after another
// into the same chunk, so the view is made once per buffer.
let viewed: Uint8Array = new Uint8Array(0)
let view: DataView = new DataView(viewed.buffer)

const viewOf = (buf: Uint8Array): DataView => {
  if (buf !== viewed) {
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    viewed = buf
  }
  return view
}

/** @internal a `fixed32`, little-endian (a signed or an unsigned 32-bit value: the same bytes) */
export const writeFixed32 = (buf: Uint8Array, pos: number, value: number): number => {
  viewOf(buf).setInt32(pos, value, true)
  return pos + 4
}

/** @internal a `fixed64` from a bigint, wrapped to 64 bits */
export const writeFixed64 = (buf: Uint8Array, pos: number, value: bigint): number => {
  viewOf(buf).setBigUint64(pos, value, true)
  return pos + 8
}

/** @internal a `double`, little-endian */
export const writeDouble = (buf: Uint8Array, pos: number, value: number): number => {
  viewOf(buf).setFloat64(pos, value, true)
  return pos + 8
}

/**
 * @internal
 * An `int64` as its two 32-bit words (two's complement), set by `int64OfNumber` or
 * `int64OfBigint` and read by `int64Size` and `writeInt64` right after.
 */
export const int64 = { low: 0, high: 0 }

const TWO_32 = 4294967296

/** @internal sets `int64` to a safe integer */
export const int64OfNumber = (value: number): void => {
  const magnitude = value < 0 ? -value : value
  let low = magnitude >>> 0
  let high = Math.floor(magnitude / TWO_32) >>> 0
  if (value < 0) {
    high = ~high >>> 0
    low = (~low + 1) >>> 0
    if (low === 0) high = (high + 1) >>> 0
  }
  int64.low = low
  int64.high = high
}

const MASK_32 = 0xffffffffn

/** @internal sets `int64` to a bigint wrapped to 64 bits (as `BigInt.asIntN(64)`) */
export const int64OfBigint = (value: bigint): void => {
  const bits = BigInt.asUintN(64, value)
  int64.low = Number(bits & MASK_32)
  int64.high = Number(bits >> 32n)
}

/** @internal the varint bytes of `int64` */
export const int64Size = (): number => {
  const high = int64.high
  return high === 0 ? varintSize(int64.low) : Math.ceil((64 - Math.clz32(high)) / 7)
}

/** @internal `int64` as a varint */
export const writeInt64 = (buf: Uint8Array, pos: number): number => {
  let low = int64.low
  let high = int64.high
  while (high !== 0) {
    buf[pos++] = low & 0x7f | 0x80
    low = (low >>> 7 | high << 25) >>> 0
    high >>>= 7
  }
  return writeVarint(buf, pos, low)
}
