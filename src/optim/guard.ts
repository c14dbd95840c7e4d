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

/**
 * The step graph without its guard: the If on `flag` replaced by its update branch, so every
 * update always applies (the flag is still computed and output). The K-step loop is built from
 * this: a skipped step inside a loop would cost the If on every step, and non-finite gradients
 * are rare, so the runtime instead drops a loop run that flagged one and replays its steps
 * through the guarded step graph (TrainingSession.stepStacked) — the same result.
 */
export function withoutGuard(g: Graph, flag: string): Graph {
  const at = g.nodes.findIndex((n) => n.opType === 'If' && n.inputs[0] === flag);
  if (at < 0) return g;
  const guard = g.nodes[at];
  const update = guard.attributes.find((a) => a.name === 'else_branch')!.value as Graph;
  const rename = new Map(update.outputs.map((o, i) => [o.name, guard.outputs[i]]));
  // Renamed where written and where read (AdamW's parameter update reads its new moments).
  const r = (x: string) => rename.get(x) ?? x;
  const nodes = update.nodes.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }));
  // An output the branch passes through unchanged (not produced by a node) needs a copy.
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  const copies = update.outputs
    .map((o, i) => ({ from: o.name, to: guard.outputs[i] }))
    .filter(({ to }) => !produced.has(to))
    .map(({ from, to }) => ({ opType: 'Identity', inputs: [from], outputs: [to], attributes: [], name: `${to}.copy` }));
  const out = new Graph();
  Object.assign(out, g);
  out.nodes = [...g.nodes.slice(0, at), ...nodes, ...copies, ...g.nodes.slice(at + 1)];
  out.initializers = [...g.initializers, ...update.initializers];
  return out;
}
