/** Reading tensor values as numbers, whatever their storage type. */
import { DataType, bfloat16ToFloat32, float16ToFloat32, type TypedArray } from './data-types.js';
import type { Tensor } from './tensor.js';

export function tensorToNumbers(t: Tensor): number[] {
  const d = t.data as TypedArray;
  if (t.dataType === DataType.FLOAT16) return Array.from(d as Uint16Array, float16ToFloat32);
  if (t.dataType === DataType.BFLOAT16) return Array.from(d as Uint16Array, bfloat16ToFloat32);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, (v) => Number(v));
  return Array.from(d as ArrayLike<number>);
}
