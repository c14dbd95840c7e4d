/**
 * K batches stacked on a new leading axis ([K, batch, …] per data input), the loop graph's
 * input: checking them, taking one step's slice (a view), and stacking separate batches.
 */
import * as ort from 'onnxruntime-node';
import { DataError } from '../errors.js';
import type { TypedArray } from '../onnx/data-types.js';
import { typeOfArray, type Batch } from './batch.js';

/** Step i of a stacked tensor (a view). */
export function unstack(t: ort.Tensor, i: number): ort.Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return new ort.Tensor(t.type as 'float32', (t.data as Float32Array).subarray(i * per, (i + 1) * per), t.dims.slice(1));
}

/** Stacked feeds as tensors, each with `k` steps on its first axis; `checkStep` checks step 0 as a batch. */
export function checkStacked(stacked: Batch, k: number, checkStep: (b: Batch) => void): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  const first: Batch = {};
  for (const [name, t] of Object.entries(stacked)) {
    const tensor = t instanceof ort.Tensor ? t : new ort.Tensor(typeOfArray(t.data as TypedArray) as 'float32', t.data as Float32Array, [...t.dims]);
    if (tensor.dims[0] !== k) throw new DataError(`stacked data input '${name}' must have ${k} steps on its first axis, got shape [${tensor.dims.join(', ')}]`);
    out[name] = tensor;
    first[name] = unstack(tensor, 0);
  }
  checkStep(first);
  return out;
}

/** Copies batches (same shapes) into one stacked tensor per input. */
export function stackBatches(feeds: Record<string, ort.Tensor>[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(feeds[0])) {
    const parts = feeds.map((f) => f[name]);
    const first = parts[0];
    if (parts.some((p) => p.dims.join() !== first.dims.join())) throw new DataError(`batches stacked into one run must have equal shapes; '${name}' differs`);
    const per = (first.data as TypedArray).length;
    const data = new (first.data.constructor as new (n: number) => TypedArray)(per * parts.length);
    parts.forEach((p, i) => (data as Float32Array).set(p.data as Float32Array, i * per));
    out[name] = new ort.Tensor(first.type as 'float32', data as Float32Array, [parts.length, ...first.dims]);
  }
  return out;
}
