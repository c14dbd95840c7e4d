/**
 * What is known about values before running: element type, shape (static or symbolic dims) and,
 * for small integer tensors, the values themselves (shape plumbing over static shapes folds to
 * constants). Facts come from the graph's declared types and initializers, then one rule per op
 * (shape-rules/registry.ts). Nodes appended later (the backward graph) are picked up lazily, so
 * gradient rules can ask about values they emitted. Unknown stays undefined: rules then emit
 * dynamic subgraphs.
 */
import type { Graph, Node } from './graph.js';
import { topoSort } from './topo.js';
import { elemTypeOf, shapeOf, type Dim } from './value-type.js';
import { MAX_TRACKED, mergeShapes, tensorFacts } from './shape-rules/facts.js';
import { shapeRule } from './shape-rules/registry.js';
import type { ShapeContext, ValueFacts } from './shape-rules/types.js';

export type { ValueFacts } from './shape-rules/types.js';
export { FLOAT_TYPES, broadcastDim, broadcastShapes, isStatic, sliceRange, sliceSpan } from './shape-rules/facts.js';

export class ShapeInfo {
  private readonly facts = new Map<string, ValueFacts>();
  /** Nodes and initializers already seen; later ones (the backward graph's) are read lazily. */
  private done: number;
  private initsDone: number;

  /**
   * `outer`: what is known in the enclosing graph, for the values a subgraph reads from it
   * (a subgraph being differentiated: grad/rules/control-flow.ts).
   */
  constructor(
    private readonly graph: Graph,
    private readonly opset: number,
    private readonly outer?: ShapeInfo,
  ) {
    for (const list of [graph.inputs, graph.outputs, graph.valueInfo])
      for (const v of list) this.merge(v.name, { shape: shapeOf(v.type), elemType: elemTypeOf(v.type) || undefined });
    for (const t of graph.initializers) this.merge(t.name, tensorFacts(t));
    for (const n of topoSort(graph)) this.inferSafe(n);
    this.done = graph.nodes.length;
    this.initsDone = graph.initializers.length;
  }

  shape(name: string): Dim[] | undefined {
    return this.get(name)?.shape;
  }

  elemType(name: string): number | undefined {
    return this.get(name)?.elemType;
  }

  value(name: string): number[] | undefined {
    return this.get(name)?.value;
  }

  /** Elements of a small integer tensor, each known or not (Shape of [batch, 3] is ['batch', 3]). */
  partial(name: string): Dim[] | undefined {
    const f = this.get(name);
    return f?.value ?? f?.partial;
  }

  /** Static rank when known. */
  rank(name: string): number | undefined {
    return this.shape(name)?.length;
  }

  private get(name: string): ValueFacts | undefined {
    // Nodes appended since (backward nodes) come in a valid order: inputs exist before use.
    while (this.initsDone < this.graph.initializers.length) {
      const t = this.graph.initializers[this.initsDone++];
      this.merge(t.name, tensorFacts(t));
    }
    while (this.done < this.graph.nodes.length) this.inferSafe(this.graph.nodes[this.done++]);
    return this.facts.get(name) ?? this.outer?.get(name);
  }

  private merge(name: string, f: ValueFacts): void {
    if (!name) return;
    const old = this.facts.get(name);
    if (!old) {
      this.facts.set(name, { ...f });
      return;
    }
    old.shape = mergeShapes(old.shape, f.shape);
    old.elemType ??= f.elemType;
    old.value ??= f.value;
    old.partial ??= f.partial;
    old.floats ??= f.floats;
  }

  private inferSafe(n: Node): void {
    // Inference is best effort: a malformed attribute leaves the outputs unknown, and the
    // rule (or ORT) that needs them reports the problem with its own context.
    try {
      this.infer(n);
    } catch {
      /* unknown */
    }
  }

  private infer(n: Node): void {
    const op = n.domain && n.domain !== 'ai.onnx' ? '' : n.opType;
    const rule = shapeRule(op);
    if (!rule) return;
    const f = (i: number): ValueFacts => (n.inputs[i] ? (this.facts.get(n.inputs[i]) ?? this.outer?.get(n.inputs[i]) ?? {}) : {});
    const out = (i: number, facts: ValueFacts) => {
      if (!facts.value && facts.partial?.every((d) => typeof d === 'number')) facts.value = facts.partial as number[];
      if (facts.value) delete facts.partial;
      if (facts.value && facts.value.length > MAX_TRACKED) delete facts.value;
      if (facts.partial && facts.partial.length > MAX_TRACKED) delete facts.partial;
      this.merge(n.outputs[i], facts);
    };
    const c: ShapeContext = {
      node: n,
      op,
      opset: this.opset,
      S: (i) => f(i).shape,
      T: (i) => f(i).elemType,
      V: (i) => f(i).value,
      P: (i) => f(i).value ?? f(i).partial,
      F: (i) => f(i).floats,
      val: (name) => (this.facts.get(name) ?? this.outer?.get(name))?.value,
      out,
      same: (t = f(0).elemType) => out(0, { shape: f(0).shape, elemType: t }),
    };
    rule.infer(c);
  }
}
