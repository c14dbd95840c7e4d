/** Batches: graph input name -> tensor, checked against what the graph declares. */
import * as ort from 'onnxruntime-node';
import { DataError } from '../errors.js';
import type { IoEntry, InputRole } from '../artifacts/manifest.js';
import type { TypedArray } from '../onnx/data-types.js';

/** A batch tensor: an onnxruntime tensor, or a TypedArray with its dims. */
export type BatchTensor = ort.Tensor | { data: TypedArray; dims: readonly number[] };
export type Batch = Record<string, BatchTensor>;

const ORT_NAME: Record<string, string> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8', int8: 'int8', float16: 'float16' };

/** onnxruntime's type name for a TypedArray (Uint16Array is taken as float16). */
export function typeOfArray(a: TypedArray): string {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint16Array) return 'float16';
  return 'unknown';
}

/** Converts and checks a batch: names, dtypes, ranks and static dims of the data inputs. */
export function toFeeds(batch: Batch, inputs: IoEntry<InputRole>[], dataInputs: string[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(batch))
    if (!dataInputs.includes(name)) throw new DataError(`'${name}' is not a data input of the model; its data inputs are ${dataInputs.join(', ')}`);
  for (const name of dataInputs) {
    const t = batch[name];
    if (!t) throw new DataError(`missing data input '${name}'; the model needs ${dataInputs.join(', ')}`);
    const entry = inputs.find((i) => i.name === name);
    let tensor: ort.Tensor;
    if (t instanceof ort.Tensor) tensor = t;
    else {
      const t2 = t as { data: TypedArray; dims: readonly number[] };
      const type = typeOfArray(t2.data);
      if (entry && entry.dtype === 'bool' && type === 'uint8') tensor = new ort.Tensor('bool', t2.data as Uint8Array, [...t2.dims]);
      else tensor = new ort.Tensor(type as 'float32', t2.data as Float32Array, [...t2.dims]);
    }
    if (entry) {
      const want = ORT_NAME[entry.dtype] ?? entry.dtype;
      if (tensor.type !== want) throw new DataError(`data input '${name}' must be ${entry.dtype}, got ${tensor.type}`);
      if (entry.shape) {
        if (entry.shape.length !== tensor.dims.length)
          throw new DataError(`data input '${name}' must have ${entry.shape.length} dimensions [${entry.shape.map((d) => d ?? '?').join(', ')}], got [${tensor.dims.join(', ')}]`);
        entry.shape.forEach((d, i) => {
          if (typeof d === 'number' && d !== tensor.dims[i])
            throw new DataError(`data input '${name}' has dimension ${i} of size ${tensor.dims[i]}, the model needs ${d} (shape [${entry.shape!.map((x) => x ?? '?').join(', ')}])`);
        });
      }
    }
    feeds[name] = tensor;
  }
  return feeds;
}

/** Rows [start, end) of every tensor in a batch (zero-copy views). */
export function sliceRows(feeds: Record<string, ort.Tensor>, start: number, end: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const data = (t.data as TypedArray).subarray(start * row, end * row);
    out[k] = new ort.Tensor(t.type as 'float32', data as Float32Array, [end - start, ...t.dims.slice(1)]);
  }
  return out;
}

export function batchRows(feeds: Record<string, ort.Tensor>): number {
  const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
  if (rows.size !== 1) throw new DataError(`the data inputs of one batch have different numbers of rows (${[...rows].join(', ')})`);
  return [...rows][0];
}
