/**
 * bind-constants (build --constant NAME=VALUE): a model input that is not data — silero VAD's
 * sample rate `sr`, a flag, a fixed mask — becomes an initializer holding the value, so it is
 * the same on every step, and what depends on it only (an If on the sample rate) folds at build
 * time. The exported model is then specialized to that value: the input is gone from it.
 */
import { UsageError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import { elemTypeOf, shapeOf } from '../../ir/value-type.js';
import { DataType, dataTypeName, isFloatType } from '../../onnx/data-types.js';
import { makeTensor, type Tensor } from '../../onnx/tensor.js';
import type { Pass } from '../pass.js';

/** A number, a flat list (shaped by the input's static shape), or a tensor (from an .npy file). */
export type ConstantValue = number | number[] | Tensor;

const WHOLE = new Set<number>([DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.BOOL]);

function toTensor(name: string, v: ConstantValue, model: Model): Tensor {
  const input = model.graph.inputs.find((i) => i.name === name)!;
  const type = elemTypeOf(input.type);
  const declared = shapeOf(input.type);
  if (!type) throw new UsageError(`--constant ${name}: the input's element type is not declared, so lion-onnx cannot tell how to store the value`);
  if (typeof v === 'object' && !Array.isArray(v)) {
    if (v.dataType !== type) throw new UsageError(`--constant ${name}: the array is ${dataTypeName(v.dataType)}, the input is ${dataTypeName(type)}`);
    if (declared && (declared.length !== v.dims.length || declared.some((d, i) => typeof d === 'number' && d !== v.dims[i])))
      throw new UsageError(`--constant ${name}: shape [${v.dims.join(', ')}] does not fit the input's [${declared.map((d) => d ?? '?').join(', ')}]`);
    return { ...v, name };
  }
  const values = Array.isArray(v) ? v : [v];
  if (!isFloatType(type) && !WHOLE.has(type)) throw new UsageError(`--constant ${name}: the input is ${dataTypeName(type)}; give it as an .npy file`);
  if (WHOLE.has(type) && values.some((x) => !Number.isInteger(x))) throw new UsageError(`--constant ${name}: the input is ${dataTypeName(type)}, so the value must be whole, got ${values.join(', ')}`);
  let dims: number[];
  if (declared && declared.every((d): d is number => typeof d === 'number')) dims = declared;
  else if (declared && declared.length === 1) dims = [values.length];
  else if (!declared && values.length === 1) dims = [];
  else throw new UsageError(`--constant ${name}: the input's shape [${(declared ?? []).map((d) => d ?? '?').join(', ')}] has unknown dims; give the value as an .npy file`);
  if (dims.reduce((a, b) => a * b, 1) !== values.length)
    throw new UsageError(`--constant ${name}: ${values.length} values do not fill the input's shape [${dims.join(', ')}]`);
  return makeTensor(name, type, dims, values);
}

export const bindConstantsPass: Pass<{ constants?: Record<string, ConstantValue> }> = {
  name: 'bind-constants',
  stage: 'import',
  needs: 'an inference model',
  gives: 'the same model with the inputs given by --constant as initializers',
  run: (model, opts) => {
    const entries = Object.entries(opts.constants ?? {});
    if (!entries.length) return { model, modified: false };
    const out = cloneModel(model);
    const g = out.graph;
    const inits = new Set(g.initializers.map((t) => t.name));
    for (const [name, v] of entries) {
      if (!g.inputs.some((i) => i.name === name) || inits.has(name))
        throw new UsageError(`--constant ${name}: the model has no input of that name; its inputs are ${g.inputs.filter((i) => !inits.has(i.name)).map((i) => i.name).join(', ')}`);
      const t = toTensor(name, v, out);
      g.inputs = g.inputs.filter((i) => i.name !== name);
      g.initializers.push(t);
    }
    out.program = { ...out.program, constants: entries.map(([n]) => n) };
    return { model: out, modified: true };
  },
};
