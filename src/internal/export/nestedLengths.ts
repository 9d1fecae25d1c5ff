/**
 * @internal
 * The stack of lengths that sizing a nested protobuf message finds (its own, its strings', its
 * arrays'), in the order its writer needs them: one message is sized, then written at once, each
 * length prefix written once. Shared by the span and the attribute encoders.
 */
import { fieldSize, utf8Length, writeUtf8, writeVarint } from "./wire.js"

const MIN_LENGTHS = 64
/**
 * @internal
 * After a message with more, the stack is made small again: one huge message's lengths are not
 * kept (nor, by the attribute encoder, its keys).
 */
export const MAX_LENGTHS = 64 * 1024
let lengths = new Int32Array(MIN_LENGTHS)
let measured = 0
let consumed = 0

/** @internal fills in the slot `reserve` gave, once its message is sized */
export const setLength = (slot: number, length: number): void => {
  lengths[slot] = length
}

/** @internal An empty stack, for the next message. */
export const resetLengths = (): void => {
  if (measured > MAX_LENGTHS) lengths = new Int32Array(MIN_LENGTHS)
  measured = consumed = 0
}

/** @internal Reserves the next slot of `lengths`, filled in once its message is sized. */
export const reserve = (): number => {
  if (measured === lengths.length) {
    const larger = new Int32Array(2 * lengths.length)
    larger.set(lengths)
    lengths = larger
  }
  return measured++
}

/** @internal The size of a string field (tag included); its UTF-8 length is kept. */
export const measureString = (text: string): number => {
  const bytes = utf8Length(text)
  lengths[reserve()] = bytes
  return fieldSize(bytes)
}

/** @internal */
export const writeStringField = (buf: Uint8Array, pos: number, tag: number, text: string): number => {
  const bytes = lengths[consumed++]
  buf[pos] = tag
  return writeUtf8(buf, writeVarint(buf, pos + 1, bytes), text, bytes)
}

/** @internal A length-delimited field whose body was sized (its length is next in `lengths`): its tag and length. */
export const writeHeader = (buf: Uint8Array, pos: number, tag: number): number => {
  buf[pos] = tag
  return writeVarint(buf, pos + 1, lengths[consumed++])
}
