/**
 * extract-inference: the inference model with trained weights written into its initializers.
 *
 * Requires: the artifacts' inference model (build: the original model; rewrite: the training
 * graph as given) and one tensor per trained parameter, shaped and typed like its initializer.
 * Ensures: a model with the same graph, where each parameter's initializer holds the given
 * values (raw storage) and every other initializer is unchanged; no training inputs, no
 * optimizer state. Pure: no file and no onnxruntime involved.
 */
import { DataError } from '../../errors.js';
import { dataTypeName } from '../../onnx/data-types.js';
import type { Tensor } from '../../onnx/tensor.js';
import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import type { Pass } from '../pass.js';

export function extractInference(inference: Model, weights: Map<string, Tensor>): Model {
  const model = cloneModel(inference);
  const g = model.graph;
  const index = new Map(g.initializers.map((t, i) => [t.name, i]));
  for (const [name, w] of weights) {
    const i = index.get(name);
    if (i === undefined) throw new DataError(`the inference model has no initializer '${name}' to write the trained weights into`);
    const old = g.initializers[i];
    if (old.dataType !== w.dataType) throw new DataError(`trained '${name}' is ${dataTypeName(w.dataType)}, the inference model's initializer is ${dataTypeName(old.dataType)}`);
    if (old.dims.length !== w.dims.length || old.dims.some((d, k) => d !== w.dims[k]))
      throw new DataError(`trained '${name}' has shape [${w.dims.join(', ')}], the inference model's initializer [${old.dims.join(', ')}]`);
    g.initializers[i] = { ...old, data: w.data, storage: old.storage === 'typed' ? 'raw' : old.storage, dims: [...old.dims] };
  }
  return model;
}

export const extractInferencePass: Pass<{ weights: Map<string, Tensor> }> = {
  name: 'extract-inference',
  stage: 'export',
  needs: 'the inference model, and one trained tensor per parameter',
  gives: 'the same model with the trained values in its initializers',
  run: (model, { weights }) => {
    const out = extractInference(model, weights);
    const same = [...weights].every(([name, w]) => model.graph.initializer(name)?.data === w.data);
    return { model: out, modified: !same };
  },
};
