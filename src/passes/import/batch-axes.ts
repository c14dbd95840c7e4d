/**
 * batch-axes (build --batch-axis NAME=AXIS): a data input whose batch is not its first axis —
 * silero VAD's recurrent state h, c: [2, batch, 64] — takes its batch first in the training
 * program ([batch, 2, 64], transposed back inside the graph), so batching, shuffling and
 * stacking steps work along axis 0 for every input. train transposes the user's arrays, given
 * in the model's own layout, once as it loads them (the manifest's `batchAxes`). The exported
 * model keeps the original layout.
 */
import { GraphError, UsageError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import { allGraphs } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/builder.js';
import { shapeOf, tensorType, elemTypeOf } from '../../ir/value-type.js';
import type { Pass } from '../pass.js';

/** perm taking the batch-first layout back to the model's: axis `a` came first. */
export function toModelLayout(rank: number, a: number): number[] {
  return Array.from({ length: rank }, (_, i) => (i < a ? i + 1 : i === a ? 0 : i));
}

export const batchAxesPass: Pass<{ batchAxes?: Record<string, number> }> = {
  name: 'batch-axes',
  stage: 'import',
  needs: 'an inference model',
  gives: 'the same model with every data input batched along its first axis (a Transpose where it was not)',
  run: (model, opts) => {
    const entries = Object.entries(opts.batchAxes ?? {}).filter(([, a]) => a !== 0);
    if (!entries.length) return { model, modified: false };
    const out = cloneModel(model);
    const g = out.graph;
    const b = new GraphBuilder(g, { scope: 'batch_axes/' });
    const inits = new Set(g.initializers.map((t) => t.name));
    const transposes = [];
    for (const [name, axis] of entries) {
      const input = g.inputs.find((i) => i.name === name && !inits.has(i.name));
      if (!input) throw new UsageError(`--batch-axis ${name}=${axis}: the model has no data input of that name`);
      const shape = shapeOf(input.type);
      if (!shape) throw new GraphError(`--batch-axis ${name}=${axis}: the input's rank is not declared`);
      if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new UsageError(`--batch-axis ${name}=${axis}: the input has ${shape.length} axes (0 to ${shape.length - 1})`);
      const inner = b.fresh(`${name}.model_layout`);
      for (const sg of allGraphs(g)) for (const n of sg.nodes) n.inputs = n.inputs.map((x) => (x === name ? inner : x));
      for (const o of g.outputs) if (o.name === name) throw new GraphError(`--batch-axis ${name}: the input is also a graph output; lion-onnx cannot move its batch axis`);
      input.type = tensorType(elemTypeOf(input.type)!, [shape[axis], ...shape.filter((_, i) => i !== axis)]);
      transposes.push({ op: 'Transpose', inputs: [name], perm: toModelLayout(shape.length, axis), out: inner });
    }
    // Transposes first: every node after them reads the model-layout values.
    const body = g.nodes;
    g.nodes = [];
    for (const t of transposes) b.add('Transpose', t.inputs, { perm: t.perm }, { exact: [t.out] });
    g.nodes.push(...body);
    out.program = { ...out.program, batchAxes: Object.fromEntries(entries) };
    return { model: out, modified: true };
  },
};
