/**
 * Turns named initializers into plain graph inputs (their values leave the graph), because
 * onnxruntime-node ignores feeds for initializers: the runtime must be able to feed them.
 * Changes the graph it is given: passes call it on their own copy.
 */
import type { Graph } from '../../ir/graph.js';
import { tensorType } from '../../ir/value-type.js';
import type { Tensor } from '../../onnx/tensor.js';

export function paramsToInputs(g: Graph, params: readonly string[]): Tensor[] {
  const set = new Set(params);
  const moved = g.initializers.filter((t) => set.has(t.name));
  g.initializers = g.initializers.filter((t) => !set.has(t.name));
  g.inputs = g.inputs.filter((i) => !set.has(i.name));
  g.inputs.push(...moved.map((t) => ({ name: t.name, type: tensorType(t.dataType, t.dims) })));
  return moved;
}
