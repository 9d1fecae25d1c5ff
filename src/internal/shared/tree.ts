/**
 * @internal
 * Trees from items that name their parent: the one builder behind the sink's trace trees and the
 * test layer's trace views. Input from outside may be any shape, so it is built with an explicit
 * stack (a chain of any length fits), and no item is lost: one whose parent is absent, itself, or
 * on a parent cycle is a root. Siblings, and roots, are ordered by start time, then input order
 * (the caller gives its items in arrival or creation order).
 */

/** @internal how to read an item, and how to make and join the nodes of its tree */
export interface TreeShape<A, N> {
  /** The item's id; ids are expected unique (of repeated ones, the first to be reached takes the children). */
  readonly id: (item: A) => string
  /** Its parent's id, `undefined` for a root. */
  readonly parentId: (item: A) => string | undefined
  readonly start: (item: A) => bigint
  /** A node for the item, without children yet. */
  readonly node: (item: A) => N
  /** Appends `child` to `parent`'s children; called in sibling order. */
  readonly addChild: (parent: N, child: N) => void
}

/** @internal the roots of the trees of `items`, every item in exactly one node */
export const buildForest = <A, N>(items: ReadonlyArray<A>, shape: TreeShape<A, N>): Array<N> => {
  const count = items.length
  const starts = items.map(shape.start)
  const ids = items.map(shape.id)
  const parents = items.map(shape.parentId)
  // Indexes by start, then input order: the one tie-break for siblings and roots.
  const byStart = Array.from({ length: count }, (_, index) => index).sort((a, b) =>
    starts[a] < starts[b] ? -1 : starts[a] > starts[b] ? 1 : a - b
  )
  const rankOf = new Array<number>(count)
  for (let rank = 0; rank < count; rank++) rankOf[byStart[rank]] = rank
  const indexOf = new Map<string, number>()
  for (let index = 0; index < count; index++) if (!indexOf.has(ids[index])) indexOf.set(ids[index], index)
  const children = new Map<string, Array<number>>()
  const rootRanks: Array<number> = []
  for (let rank = 0; rank < count; rank++) {
    const index = byStart[rank]
    const parent = parents[index]
    if (parent === undefined || parent === ids[index] || !indexOf.has(parent)) {
      rootRanks.push(rank)
    } else {
      const siblings = children.get(parent)
      if (siblings === undefined) children.set(parent, [index])
      else siblings.push(index)
    }
  }
  // A node exists once its item is placed: the visited mark.
  const nodes: Array<N | undefined> = new Array(count)
  const grow = (index: number): void => {
    nodes[index] = shape.node(items[index])
    const stack = [index]
    for (let at = stack.pop(); at !== undefined; at = stack.pop()) {
      const parentNode = nodes[at]!
      for (const child of children.get(ids[at]) ?? []) {
        if (nodes[child] !== undefined) continue
        const childNode = shape.node(items[child])
        nodes[child] = childNode
        shape.addChild(parentNode, childNode)
        stack.push(child)
      }
    }
  }
  for (const rank of rootRanks) grow(byStart[rank])
  // What is left hangs from a parent cycle, with no root above it: the cycle's earliest member
  // becomes the root, and everything under the cycle keeps its place. Each item is walked once.
  const parentOf = (index: number): number => indexOf.get(parents[index]!)!
  let cycles = false
  for (let rank = 0; rank < count; rank++) {
    let at = byStart[rank]
    if (nodes[at] !== undefined) continue
    const walked = new Set<number>()
    while (!walked.has(at)) {
      walked.add(at)
      at = parentOf(at)
    }
    let leader = at
    for (let next = parentOf(at); next !== at; next = parentOf(next)) if (rankOf[next] < rankOf[leader]) leader = next
    grow(leader)
    rootRanks.push(rankOf[leader])
    cycles = true
  }
  if (cycles) rootRanks.sort((a, b) => a - b)
  return rootRanks.map((rank) => nodes[byStart[rank]]!)
}
