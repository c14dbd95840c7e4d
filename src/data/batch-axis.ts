/**
 * An array given in the model's layout with its batch on another axis (build --batch-axis),
 * moved to batch-first once as train loads it, so every later batch is a slice of rows.
 */
import { DataError } from '../errors.js';
import type { TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';

export function toBatchFirst(t: Tensor, axis: number, where: string): Tensor {
  if (axis === 0) return t;
  if (axis >= t.dims.length) throw new DataError(`${where}: the model takes its batch on axis ${axis}, but the array has ${t.dims.length} dimensions`);
  const dims = t.dims;
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const src = t.data as TypedArray;
  const out = new (src.constructor as new (len: number) => TypedArray)(src.length);
  // [outer, n, inner] -> [n, outer, inner]
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < n; i++) {
      const from = (o * n + i) * inner;
      (out as Float64Array).set((src as Float64Array).subarray(from, from + inner), (i * outer + o) * inner);
    }
  return { ...t, dims: [n, ...dims.slice(0, axis), ...dims.slice(axis + 1)], data: out };
}
