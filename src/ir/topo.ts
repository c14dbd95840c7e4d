/** Topological order and dead-node removal. */
import { GraphError } from '../errors.js';
import { allGraphs, Graph, type Node } from './graph.js';

/** Names a node reads, including values its subgraphs capture from the enclosing scope. */
export function nodeReads(node: Node): string[] {
  const reads = node.inputs.filter((x) => x !== '');
  for (const a of node.attributes) {
    const subs = a.value instanceof Graph ? [a.value] : Array.isArray(a.value) && a.value[0] instanceof Graph ? (a.value as Graph[]) : [];
    for (const sg of subs) reads.push(...capturedNames(sg));
  }
  return reads;
}

/** Names used inside a subgraph (at any depth) that it does not define itself. */
export function capturedNames(sg: Graph): string[] {
  const defined = new Set<string>();
  const used = new Set<string>();
  for (const g of allGraphs(sg)) {
    for (const v of g.inputs) defined.add(v.name);
    for (const t of g.initializers) defined.add(t.name);
    for (const n of g.nodes) {
      for (const o of n.outputs) defined.add(o);
      for (const i of n.inputs) if (i) used.add(i);
    }
    for (const o of g.outputs) used.add(o.name);
  }
  return [...used].filter((u) => !defined.has(u));
}

/**
 * Nodes in an order where every value is written before it is read; stable otherwise: among
 * the nodes that are ready, the one earliest in the current order goes first, so an already
 * sorted graph keeps its order and unrelated nodes keep their relative order.
 */
export function topoSort(graph: Graph): Node[] {
  checkSingleWriter(graph);
  const producer = graph.producers();
  const indeg = new Map<Node, number>();
  const readers = new Map<Node, Node[]>();
  for (const n of graph.nodes) {
    let d = 0;
    for (const r of new Set(nodeReads(n))) {
      const p = producer.get(r);
      if (p === n) throw new GraphError(`the graph has a cycle: node '${n.name ?? n.opType}' (${n.opType}) reads its own output '${r}'`);
      if (p) {
        d++;
        const list = readers.get(p) ?? [];
        list.push(n);
        readers.set(p, list);
      }
    }
    indeg.set(n, d);
  }
  const order: Node[] = [];
  const position = new Map(graph.nodes.map((n, i) => [n, i]));
  const ready = new MinHeap<Node>((a, b) => position.get(a)! - position.get(b)!);
  for (const n of graph.nodes) if (indeg.get(n) === 0) ready.push(n);
  for (let n = ready.pop(); n; n = ready.pop()) {
    order.push(n);
    for (const r of readers.get(n) ?? []) {
      const d = indeg.get(r)! - 1;
      indeg.set(r, d);
      if (d === 0) ready.push(r);
    }
  }
  if (order.length !== graph.nodes.length) {
    const stuck = graph.nodes.find((n) => indeg.get(n)! > 0)!;
    throw new GraphError(`the graph has a cycle through node '${stuck.name ?? stuck.opType}' (${stuck.opType})`);
  }
  return order;
}

/**
 * Every value has one writer: a node output may not repeat another node's output, a graph
 * input or an initializer. (A second writer made the backward walk, which looks values' producers
 * up by name, fail with an internal error; found by fuzzing.)
 */
function checkSingleWriter(graph: Graph): void {
  const label = (n: Node) => `'${n.name ?? n.opType}' (${n.opType})`;
  const outside = new Set([...graph.inputs.map((i) => i.name), ...graph.initializers.map((t) => t.name)]);
  const writer = new Map<string, Node>();
  for (const n of graph.nodes)
    for (const o of n.outputs) {
      if (!o) continue;
      const other = writer.get(o);
      if (other) throw new GraphError(`value '${o}' is written by two nodes, ${label(other)} and ${label(n)}; an ONNX value has one producer — re-export the model`);
      if (outside.has(o)) throw new GraphError(`node ${label(n)} writes '${o}', which is also a graph input or initializer; an ONNX value has one producer — re-export the model`);
      writer.set(o, n);
    }
}

/** A binary min-heap; topoSort's ready set, so sorting n nodes costs O(n log n). */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  push(x: T): void {
    const a = this.items;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.compare(a[i], a[parent]) >= 0) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.compare(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.compare(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Removes nodes whose outputs reach no graph output, and initializers nobody reads. */
export function removeDeadNodes(graph: Graph): { removedNodes: number; removedInitializers: number } {
  const producer = graph.producers();
  const live = new Set<Node>();
  const stack = graph.outputs.map((o) => o.name);
  const seen = new Set<string>();
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = producer.get(v);
    if (p && !live.has(p)) {
      live.add(p);
      stack.push(...nodeReads(p));
    }
  }
  const before = graph.nodes.length;
  graph.nodes = graph.nodes.filter((n) => live.has(n));
  const inits = graph.initializers.length;
  graph.initializers = graph.initializers.filter((t) => seen.has(t.name) || graph.inputs.some((i) => i.name === t.name));
  return { removedNodes: before - graph.nodes.length, removedInitializers: inits - graph.initializers.length };
}
