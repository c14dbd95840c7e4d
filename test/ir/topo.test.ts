/**
 * topoSort puts every producer before its readers (subgraph captures count as reads), keeps
 * ready nodes in their original order, and reports cycles; removeDeadNodes keeps exactly what
 * reaches a graph output.
 */
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { AttrType, Graph, type Node } from '../../src/ir/graph.js';
import { capturedNames, nodeReads, removeDeadNodes, topoSort } from '../../src/ir/topo.js';
import { rng } from '../helpers/graphs.js';

const node = (name: string, inputs: string[], outputs: string[] = [name]): Node => ({ opType: 'Op', inputs, outputs, attributes: [], name });
const names = (ns: Node[]) => ns.map((n) => n.name);

function graphOf(nodes: Node[], outputs: string[] = [], inputs: string[] = []): Graph {
  const g = new Graph();
  g.nodes = nodes;
  g.outputs = outputs.map((name) => ({ name }));
  g.inputs = inputs.map((name) => ({ name }));
  return g;
}

/** Each node reads only values that are graph inputs, initializers, or written earlier. */
function checkOrder(g: Graph, order: Node[]): void {
  const written = new Set([...g.inputs.map((i) => i.name), ...g.initializers.map((t) => t.name)]);
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));
  for (const n of order) {
    for (const r of nodeReads(n)) if (produced.has(r)) expect(written.has(r), `${n.name} reads ${r} before it is written`).toBe(true);
    for (const o of n.outputs) written.add(o);
  }
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('topoSort', () => {
  it('orders a shuffled diamond-and-chain graph', () => {
    // x -> a -> b -> d, a -> c -> d, d -> e; f independent; g reads e and f.
    const nodes = [node('a', ['x']), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c']), node('e', ['d']), node('f', ['x']), node('g', ['e', 'f'])];
    const r = rng(42);
    for (let trial = 0; trial < 50; trial++) {
      const g = graphOf(shuffle(nodes, r), ['g'], ['x']);
      const order = topoSort(g);
      expect(order.length).toBe(nodes.length);
      expect(new Set(order).size).toBe(nodes.length);
      checkOrder(g, order);
    }
  });

  it('gives the exact expected order for a reversed chain with an independent node', () => {
    const g = graphOf([node('c', ['b']), node('z', ['x']), node('b', ['a']), node('a', ['x'])], ['c', 'z'], ['x']);
    // Ready at first: z, a (in that original order); then b, then c.
    expect(names(topoSort(g))).toEqual(['z', 'a', 'b', 'c']);
  });

  it('leaves an already sorted graph in its order', () => {
    // b depends on a; c is independent of both and comes after b in the original.
    const g = graphOf([node('a', ['x']), node('b', ['a']), node('c', ['x']), node('d', ['b', 'c']), node('e', ['x'])], ['d', 'e'], ['x']);
    expect(names(topoSort(g))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps independent nodes in their original relative order', () => {
    const independent = Array.from({ length: 20 }, (_, i) => node(`n${i}`, ['x']));
    const g = graphOf([node('late', ['n19']), ...independent], [], ['x']);
    const order = names(topoSort(g));
    expect(order.filter((n) => n !== 'late')).toEqual(independent.map((n) => n.name));
    expect(order.at(-1)).toBe('late');
  });

  it('treats a value captured by a subgraph as read by the node that owns it', () => {
    const branch = graphOf([node('inner', ['v'])], ['inner']);
    const ifNode: Node = {
      opType: 'If',
      inputs: ['cond'],
      outputs: ['y'],
      attributes: [
        { name: 'then_branch', type: AttrType.GRAPH, value: branch },
        { name: 'else_branch', type: AttrType.GRAPH, value: graphOf([node('other', ['x'])], ['other']) },
      ],
      name: 'if',
    };
    expect(capturedNames(branch)).toEqual(['v']);
    const g = graphOf([ifNode, node('v', ['x'])], ['y'], ['x', 'cond']);
    expect(names(topoSort(g))).toEqual(['v', 'if']);
  });

  it('a node reading its own output is a cycle', () => {
    const g = graphOf([node('a', ['x']), node('loop', ['a', 'loop'])], ['loop'], ['x']);
    expect(() => topoSort(g)).toThrow(GraphError);
    expect(() => topoSort(g)).toThrow(/cycle.*'loop'/);
  });

  it('a two-node cycle is reported with a GraphError naming a node on it', () => {
    const g = graphOf([node('ok', ['x']), node('p', ['q', 'ok']), node('q', ['p'])], ['q'], ['x']);
    let err: Error | undefined;
    try {
      topoSort(g);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect(err!.message).toMatch(/^the graph has a cycle through node '(p|q)' \(Op\)$/);
  });

  it('a cycle through a subgraph capture is found', () => {
    const branch = graphOf([node('inner', ['after'])], ['inner']);
    const ifNode: Node = { opType: 'If', inputs: ['cond'], outputs: ['y'], attributes: [{ name: 'then_branch', type: AttrType.GRAPH, value: branch }], name: 'if' };
    const g = graphOf([ifNode, node('after', ['y'])], ['after'], ['cond']);
    expect(() => topoSort(g)).toThrow(GraphError);
  });
});

describe('removeDeadNodes', () => {
  it('removes nodes that reach no output and initializers nobody reads, keeps the rest', () => {
    const g = graphOf([node('a', ['x', 'w']), node('dead1', ['a', 'unused_w']), node('dead2', ['dead1']), node('b', ['a'])], ['b'], ['x']);
    g.initializers = [makeTensor('w', DataType.FLOAT, [1], [1]), makeTensor('unused_w', DataType.FLOAT, [1], [2]), makeTensor('orphan', DataType.FLOAT, [1], [3])];
    expect(removeDeadNodes(g)).toEqual({ removedNodes: 2, removedInitializers: 2 });
    expect(names(g.nodes)).toEqual(['a', 'b']);
    expect(g.initializers.map((t) => t.name)).toEqual(['w']);
  });

  it('keeps an initializer that is also a graph input (an overridable default), and one that is itself an output', () => {
    const g = graphOf([node('dead', ['x'])], ['out_w'], ['x', 'in_w']);
    g.initializers = [makeTensor('in_w', DataType.FLOAT, [1], [1]), makeTensor('out_w', DataType.FLOAT, [1], [2])];
    expect(removeDeadNodes(g)).toEqual({ removedNodes: 1, removedInitializers: 0 });
  });

  it('keeps nodes and initializers that only a live subgraph reads (an If branch reading outer values)', () => {
    const thenBranch = graphOf([node('then_mul', ['outer', 'outer_w'])], ['then_mul']);
    const elseBranch = graphOf([node('else_id', ['x'])], ['else_id']);
    const ifNode: Node = {
      opType: 'If',
      inputs: ['cond'],
      outputs: ['y'],
      attributes: [
        { name: 'then_branch', type: AttrType.GRAPH, value: thenBranch },
        { name: 'else_branch', type: AttrType.GRAPH, value: elseBranch },
      ],
      name: 'if',
    };
    const g = graphOf([node('outer', ['x']), node('unrelated', ['x']), ifNode], ['y'], ['x', 'cond']);
    g.initializers = [makeTensor('outer_w', DataType.FLOAT, [1], [1]), makeTensor('spare', DataType.FLOAT, [1], [1])];
    expect(removeDeadNodes(g)).toEqual({ removedNodes: 1, removedInitializers: 1 });
    expect(names(g.nodes)).toEqual(['outer', 'if']);
    expect(g.initializers.map((t) => t.name)).toEqual(['outer_w']);
    // The branches themselves are untouched.
    expect(names(thenBranch.nodes)).toEqual(['then_mul']);
  });

  it('removes a dead If node together with what only its branch read', () => {
    const branch = graphOf([node('inner', ['feeds_dead_if'])], ['inner']);
    const ifNode: Node = { opType: 'If', inputs: ['cond'], outputs: ['unused_y'], attributes: [{ name: 'then_branch', type: AttrType.GRAPH, value: branch }], name: 'if' };
    const g = graphOf([node('feeds_dead_if', ['x']), ifNode, node('live', ['x'])], ['live'], ['x', 'cond']);
    expect(removeDeadNodes(g)).toEqual({ removedNodes: 2, removedInitializers: 0 });
    expect(names(g.nodes)).toEqual(['live']);
  });

  it('changes nothing when everything is live', () => {
    const g = graphOf([node('a', ['x']), node('b', ['a', 'x'])], ['b', 'a'], ['x']);
    const before = [...g.nodes];
    expect(removeDeadNodes(g)).toEqual({ removedNodes: 0, removedInitializers: 0 });
    expect(g.nodes).toEqual(before);
  });
});
