/** Small models built in tests with the IR. */
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';

export function model(graph: Graph, opset = 13): Model {
  return { irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 'test', graph };
}

/**
 * A "training graph" whose gradients are fed as inputs: for each parameter P (an initializer
 * with the given values, float32 unless `elemType` says otherwise) an input `g:P` and a node
 * Identity(g:P) -> P_grad, a graph output.
 */
export function gradientsAsInputs(params: Record<string, { dims: number[]; values: number[] }>, elemType: number = DataType.FLOAT): Model {
  const g = new Graph();
  g.name = 'grads_as_inputs';
  for (const [name, { dims, values }] of Object.entries(params)) {
    g.initializers.push(makeTensor(name, elemType, dims, values));
    g.inputs.push({ name: `g:${name}`, type: tensorType(elemType, dims) });
    g.nodes.push({ opType: 'Identity', inputs: [`g:${name}`], outputs: [`${name}_grad`], attributes: [], name: `grad_of_${name}` });
    g.outputs.push({ name: `${name}_grad`, type: tensorType(elemType, dims) });
  }
  return model(g);
}

/** Deterministic PRNG (mulberry32, the one the datasets use), so numeric tests are reproducible. */
export { prng as rng } from '../../src/data/dataset.js';

export function normals(r: () => number, n: number): number[] {
  return Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()));
}
