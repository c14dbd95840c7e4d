/**
 * GraphBuilder: appends nodes to a graph with names that never collide with any name already
 * in it (values, nodes, initializers, names used inside subgraphs). Passes and gradient rules
 * build through it.
 */
import { GraphError } from '../errors.js';
import { DataType } from '../onnx/data-types.js';
import { makeTensor, type Tensor } from '../onnx/tensor.js';
import { makeAttribute, type AttrInput } from './attributes.js';
import { allGraphs, Graph, type Node } from './graph.js';

/** Every name used anywhere in the graph and its subgraphs. */
export function namesIn(graph: Graph): Set<string> {
  const names = new Set<string>();
  for (const g of allGraphs(graph)) {
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) names.add(v.name);
    for (const t of g.initializers) names.add(t.name);
    // Sparse initializers are values too; the IR keeps them verbatim in `extra`.
    for (const s of (g.extra?.sparse_initializer as { values?: { name?: string } }[] | undefined) ?? []) if (s.values?.name) names.add(s.values.name);
    for (const n of g.nodes) {
      for (const x of [...n.inputs, ...n.outputs]) if (x) names.add(x);
      if (n.name) names.add(n.name);
    }
  }
  return names;
}

export class GraphBuilder {
  readonly graph: Graph;
  private readonly used: Set<string>;
  /** Prefix for node names this builder creates (e.g. "lion/"), for readability in viewers. */
  private readonly scope: string;
  private counter = 0;

  constructor(graph: Graph, opts: { scope?: string; used?: Set<string> } = {}) {
    this.graph = graph;
    this.used = opts.used ?? namesIn(graph);
    this.scope = opts.scope ?? '';
  }

  /** A builder sharing this one's name set, with another scope prefix. */
  withScope(scope: string): GraphBuilder {
    return new GraphBuilder(this.graph, { scope, used: this.used });
  }

  /** A builder for another graph (a subgraph being made) sharing this one's name set, so no name repeats across them. */
  onGraph(graph: Graph, scope = this.scope): GraphBuilder {
    for (const n of namesIn(graph)) this.used.add(n);
    return new GraphBuilder(graph, { scope, used: this.used });
  }

  /** A fresh name based on `base`: `base` itself if free, else `base_1`, `base_2`, ... */
  fresh(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
  }

  /** Claims an exact name (a contract name such as `w.lion_m`); throws if it is taken. */
  claim(name: string, what: string): string {
    if (this.used.has(name))
      throw new GraphError(`the graph already has a value or node named '${name}', which ${what} needs; rename it in the source model`);
    this.used.add(name);
    return name;
  }

  isUsed(name: string): boolean {
    return this.used.has(name);
  }

  /**
   * Appends a node. Output names are minted from `outputs` hints (or the op type); pass
   * `{ exact: [...] }` for names that must be exactly those. Returns the output names.
   */
  add(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, opts: { outputs?: number | string[]; exact?: string[]; name?: string } = {}): string[] {
    let outputs: string[];
    if (opts.exact) {
      outputs = opts.exact;
      // Reserve them (whether or not claimed before) so no later fresh() name repeats one.
      for (const o of outputs) if (o) this.used.add(o);
    }
    else if (Array.isArray(opts.outputs)) outputs = opts.outputs.map((o) => this.fresh(o));
    else {
      const count = opts.outputs ?? 1;
      outputs = Array.from({ length: count }, (_, i) => this.fresh(`${this.scope}${opType}_${this.counter}${count > 1 ? `_${i}` : ''}`));
    }
    this.counter++;
    const node: Node = {
      opType,
      inputs,
      outputs,
      attributes: Object.entries(attrs)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => makeAttribute(k, v)),
      name: this.fresh(opts.name ?? `${this.scope}${opType}_${this.counter}`),
    };
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Appends a one-output node and returns its output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, outName?: string): string {
    return this.add(opType, inputs, attrs, outName ? { outputs: [outName] } : {})[0];
  }

  /** Adds an initializer holding `values` and returns its name. */
  constant(base: string, dataType: number, dims: number[], values: ArrayLike<number>): string {
    const name = this.fresh(base);
    this.graph.initializers.push(makeTensor(name, dataType, dims, values));
    return name;
  }

  scalar(base: string, v: number, dataType: number = DataType.FLOAT): string {
    return this.constant(base, dataType, [], [v]);
  }

  int64s(base: string, values: number[]): string {
    return this.constant(base, DataType.INT64, [values.length], values);
  }

  addInitializer(t: Tensor): void {
    this.claim(t.name, 'an initializer');
    this.graph.initializers.push(t);
  }
}
