/**
 * The non-finite guard as one If (nonfinite.ts decides when a step is skipped; this decides how
 * the skip is emitted). `Where(flag, old, updated)` per parameter and state tensor costs a full
 * pass over each of them on every step, and onnxruntime's CPU Where kernel is one of its slowest
 * element-wise kernels (bench/lion-update.md: the guard's two Wheres cost more than the whole
 * Lion update). An If on the scalar flag selects without touching the elements: its else branch
 * is the update, its then branch passes the old values through (copies, only on skipped steps).
 */
import { Graph } from '../ir/graph.js';
import type { GraphBuilder } from '../ir/builder.js';
import type { TypeProto } from '../onnx/schema.js';

/** One value the guarded update writes: `out` is `updated` on a normal step, `old` on a skipped one. */
export interface Guarded {
  old: string;
  updated: string;
  out: string;
  /** The value's type (the parameter's); subgraph outputs should declare one. */
  type?: TypeProto;
}

/**
 * Runs `emit`, which appends the update's nodes to `b.graph` and returns the values it wrote,
 * then moves those nodes into the else branch of `If(flag)`, whose outputs are the `out` names.
 * The moved nodes keep their names (minted by `b`, so unique in the whole model) and read
 * everything else (inputs, gradients, scalars, initializers) from the enclosing graph.
 */
export function emitGuarded(b: GraphBuilder, flag: string, emit: () => Guarded[]): void {
  const g = b.graph;
  const start = g.nodes.length;
  const values = emit();
  const update = new Graph();
  update.name = b.fresh('guard.update');
  update.nodes = g.nodes.splice(start);
  update.outputs = values.map((v) => ({ name: v.updated, type: v.type }));

  const keep = new Graph();
  keep.name = b.fresh('guard.keep');
  const mark = g.nodes.length;
  keep.outputs = values.map((v) => ({ name: b.add('Identity', [v.old], {}, { outputs: [`${v.old}.kept`] })[0], type: v.type }));
  keep.nodes = g.nodes.splice(mark);

  b.add('If', [flag], { then_branch: keep, else_branch: update }, { exact: values.map((v) => v.out) });
}
