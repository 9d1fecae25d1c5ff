import { describe, expect, it } from "@effect/vitest"
import { buildForest } from "../../../src/internal/shared/tree.js"
import { toTraces as testViews } from "../../../src/internal/testing/testTracing.js"
import type { FinishedUserSpan } from "../../../src/UserSpan.js"
import * as UserTraceSink from "../../../src/UserTraceSink.js"
import type { TestTrace } from "../../../src/UserTracingTest.js"
import { receivedSpan, spanIdOf, traceIdOf } from "../../utils/sinkClient.js"

interface Item {
  readonly id: string
  readonly parent?: string
  readonly start: bigint
}

interface Node {
  readonly id: string
  readonly children: Array<Node>
}

const forest = (items: ReadonlyArray<Item>): Array<Node> =>
  buildForest<Item, Node>(items, {
    id: (item) => item.id,
    parentId: (item) => item.parent,
    start: (item) => item.start,
    node: (item) => ({ id: item.id, children: [] }),
    addChild: (parent, child) => void parent.children.push(child)
  })

/** `id(child, child)` for each node, without recursion. */
const shape = (roots: ReadonlyArray<Node>): string => {
  const out: Array<string> = []
  const stack: Array<Node | ")"> = roots.slice().reverse()
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (item === ")") {
      out.push(")")
      continue
    }
    out.push(item.id)
    if (item.children.length > 0) {
      out.push("(")
      stack.push(")")
      for (let i = item.children.length - 1; i >= 0; i--) stack.push(item.children[i])
    }
  }
  return out.join(" ").replaceAll("( ", "(").replaceAll(" )", ")")
}

/** The tree of a test view as the same notation, without recursion. */
const testShape = (roots: ReadonlyArray<TestTrace>): string =>
  shape(roots.map(function convert(trace): Node {
    return { id: trace.name, children: trace.children.map(convert) }
  }))

/** A finished span as the test layer holds it: the fields its views read. */
const finished = (name: string, spanId: string, parentSpanId: string | undefined, startTime: bigint) =>
  ({
    traceId: traceIdOf(0),
    spanId,
    parentSpanId,
    name,
    startTime,
    endTime: startTime + 10n,
    attributes: new Map(),
    events: [],
    links: [],
    status: "unset",
    statusMessage: ""
  }) as unknown as FinishedUserSpan

describe("one trace-tree builder", () => {
  it("siblings and roots by start time, then input order", () => {
    const roots = forest([
      { id: "late-root", start: 50n },
      { id: "b", parent: "root", start: 20n },
      { id: "root", start: 0n },
      { id: "a2", parent: "root", start: 10n },
      { id: "a1", parent: "root", start: 10n },
      { id: "early-root", start: 0n }
    ])
    expect(shape(roots)).toBe("root (a2 a1 b) early-root late-root")
  })

  it("missing parents, self-parents and cycles are roots; every item exactly once", () => {
    const roots = forest([
      { id: "x", parent: "y", start: 5n },
      { id: "y", parent: "x", start: 3n },
      { id: "under-cycle", parent: "x", start: 1n },
      { id: "self", parent: "self", start: 2n },
      { id: "orphan", parent: "gone", start: 4n },
      { id: "root", start: 6n }
    ])
    // The cycle's earliest member leads it; roots by start, cycle roots included.
    expect(shape(roots)).toBe("self y (x (under-cycle)) orphan root")
  })

  it("a chain of 200,000 items, given leaf first: built without recursion", () => {
    const count = 200_000
    const items = Array.from({ length: count }, (_, i) => ({
      id: String(count - 1 - i),
      ...(i === count - 1 ? {} : { parent: String(count - 2 - i) }),
      start: BigInt(count - 1 - i)
    }))
    const [root, ...others] = forest(items)
    expect(others).toEqual([])
    let depth = 0
    for (let node: Node | undefined = root; node !== undefined; node = node.children[0]) depth++
    expect(depth).toBe(count)
  })

  it("a parent cycle of 100,000 items with a branch under it: one root, its earliest member; nothing lost", () => {
    const count = 100_000
    const cycle = Array.from({ length: count }, (_, i) => ({
      id: `c${i}`,
      parent: `c${(i + 1) % count}`,
      start: BigInt((i * 7919) % count)
    }))
    const branch = [{ id: "leaf", parent: "c500", start: 0n }]
    const roots = forest([...branch, ...cycle])
    expect(roots.map((root) => root.id)).toEqual(["c0"])
    let placed = 0
    const stack = roots.slice()
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      placed++
      for (const child of node.children) stack.push(child)
    }
    expect(placed).toBe(count + 1)
  })

  it("the sink's trees and the test layer's views are the same shape for the same spans", () => {
    const spans = [
      ["child-b", 2, 1, 30n],
      ["child-a", 3, 1, 20n],
      ["grandchild", 4, 3, 25n],
      ["self", 5, 5, 1n],
      ["cycle-1", 6, 7, 40n],
      ["cycle-2", 7, 6, 45n],
      ["tie-1", 8, 1, 20n],
      ["root", 1, undefined, 10n]
    ] as const
    const sink = UserTraceSink.toTraces(spans.map(([name, id, parent, start]) =>
      receivedSpan({
        name,
        spanId: spanIdOf(id),
        parentSpanId: parent === undefined ? undefined : spanIdOf(parent),
        startTimeUnixNano: start
      })
    ))
    const sinkShape = shape(sink[0].roots.map(function convert(node): Node {
      return { id: node.span.name, children: node.children.map(convert) }
    }))
    const views = testViews(
      spans.map(([name, id, parent, start]) =>
        finished(name, spanIdOf(id), parent === undefined ? undefined : spanIdOf(parent), start)
      )
    )
    expect(sinkShape).toBe("self root (child-a (grandchild) tie-1 child-b) cycle-1 (cycle-2)")
    expect(testShape(views)).toBe(sinkShape)
  })

  it("the test layer's views take a chain of 50,000 spans and a self-parented span", () => {
    const count = 50_000
    const chain = Array.from(
      { length: count },
      (_, i) => finished(`s${i}`, spanIdOf(i), i === 0 ? undefined : spanIdOf(i - 1), BigInt(i))
    )
    const views = testViews([...chain, finished("self", spanIdOf(count), spanIdOf(count), 0n)])
    expect(views.map((view) => view.name)).toEqual(["s0", "self"])
    let depth = 0
    for (let view: TestTrace | undefined = views[0]; view !== undefined; view = view.children[0]) depth++
    expect(depth).toBe(count)
  })
})
