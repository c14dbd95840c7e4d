/** IR tensors <-> onnxruntime-node tensors (sharing memory where the types allow). */
import * as ort from 'onnxruntime-node';
import { DataError } from '../errors.js';
import { DataType, dataTypeName, type TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';

const ORT_TYPES: Record<number, ort.Tensor.Type> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.INT16]: 'int16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.UINT16]: 'uint16',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool',
};

export function ortType(dataType: number): ort.Tensor.Type {
  const t = ORT_TYPES[dataType];
  if (!t) throw new DataError(`onnxruntime-node cannot take ${dataTypeName(dataType)} tensors`);
  return t;
}

export function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(ortType(t.dataType), t.data as TypedArray as never, t.dims);
}

const FROM_ORT = new Map(Object.entries(ORT_TYPES).map(([k, v]) => [v, Number(k)]));

export function fromOrt(name: string, t: ort.Tensor): Tensor {
  const dataType = FROM_ORT.get(t.type);
  if (dataType === undefined) throw new DataError(`unsupported onnxruntime tensor type ${t.type} for '${name}'`);
  return { name, dataType, dims: [...t.dims], data: t.data as TypedArray };
}

/** A float64 scalar tensor (hyperparameter inputs). */
export function scalarF64(v: number): ort.Tensor {
  return new ort.Tensor('float64', new Float64Array([v]), []);
}
