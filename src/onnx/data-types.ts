/**
 * ONNX tensor element types: one exhaustive table (TensorProto.DataType) with the TypedArray
 * each is held in, its size, and the TensorProto field its values go to when not in raw_data.
 */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Tensor values: a TypedArray, or one byte string per element for STRING. */
export type TensorData = TypedArray | Uint8Array[];

type ArrayCtor = { new (n: number): TypedArray; new (buf: ArrayBufferLike, off: number, len: number): TypedArray; BYTES_PER_ELEMENT: number };

export interface DataTypeInfo {
  name: string;
  /** Container for the values; sub-byte types keep their packed bytes. */
  array: ArrayCtor | null;
  /** Elements of `array` per tensor element (2 for complex). */
  lanes: number;
  /** Bits per tensor element (packed types < 8). */
  bits: number;
  /** TensorProto field that holds the values when raw_data is not used. */
  field: 'float_data' | 'int32_data' | 'int64_data' | 'double_data' | 'uint64_data' | 'string_data' | null;
}

const T = (name: string, array: ArrayCtor | null, bits: number, field: DataTypeInfo['field'], lanes = 1): DataTypeInfo => ({
  name,
  array,
  bits,
  field,
  lanes,
});

const INFO: Record<number, DataTypeInfo> = {
  [DataType.FLOAT]: T('float32', Float32Array, 32, 'float_data'),
  [DataType.UINT8]: T('uint8', Uint8Array, 8, 'int32_data'),
  [DataType.INT8]: T('int8', Int8Array, 8, 'int32_data'),
  [DataType.UINT16]: T('uint16', Uint16Array, 16, 'int32_data'),
  [DataType.INT16]: T('int16', Int16Array, 16, 'int32_data'),
  [DataType.INT32]: T('int32', Int32Array, 32, 'int32_data'),
  [DataType.INT64]: T('int64', BigInt64Array as unknown as ArrayCtor, 64, 'int64_data'),
  [DataType.STRING]: T('string', null, 0, 'string_data'),
  [DataType.BOOL]: T('bool', Uint8Array, 8, 'int32_data'),
  [DataType.FLOAT16]: T('float16', Uint16Array, 16, 'int32_data'),
  [DataType.DOUBLE]: T('float64', Float64Array, 64, 'double_data'),
  [DataType.UINT32]: T('uint32', Uint32Array, 32, 'uint64_data'),
  [DataType.UINT64]: T('uint64', BigUint64Array as unknown as ArrayCtor, 64, 'uint64_data'),
  [DataType.COMPLEX64]: T('complex64', Float32Array, 64, 'float_data', 2),
  [DataType.COMPLEX128]: T('complex128', Float64Array, 128, 'double_data', 2),
  [DataType.BFLOAT16]: T('bfloat16', Uint16Array, 16, 'int32_data'),
  [DataType.FLOAT8E4M3FN]: T('float8e4m3fn', Uint8Array, 8, 'int32_data'),
  [DataType.FLOAT8E4M3FNUZ]: T('float8e4m3fnuz', Uint8Array, 8, 'int32_data'),
  [DataType.FLOAT8E5M2]: T('float8e5m2', Uint8Array, 8, 'int32_data'),
  [DataType.FLOAT8E5M2FNUZ]: T('float8e5m2fnuz', Uint8Array, 8, 'int32_data'),
  [DataType.UINT4]: T('uint4', Uint8Array, 4, 'int32_data'),
  [DataType.INT4]: T('int4', Uint8Array, 4, 'int32_data'),
  [DataType.FLOAT4E2M1]: T('float4e2m1', Uint8Array, 4, 'int32_data'),
  [DataType.FLOAT8E8M0]: T('float8e8m0', Uint8Array, 8, 'int32_data'),
  [DataType.UINT2]: T('uint2', Uint8Array, 2, 'int32_data'),
  [DataType.INT2]: T('int2', Uint8Array, 2, 'int32_data'),
};

/** Table entry for a data type, or undefined for UNDEFINED and unknown codes. */
export function dataTypeInfo(dt: number): DataTypeInfo | undefined {
  return INFO[dt];
}

export function dataTypeName(dt: number): string {
  return INFO[dt]?.name ?? `unknown data type ${dt}`;
}

/** Number of array slots needed for `count` tensor elements (packed sub-byte types round up). */
export function arrayLength(info: DataTypeInfo, count: number): number {
  if (info.bits < 8) return Math.ceil((count * info.bits) / 8);
  return count * info.lanes;
}

/** Bytes `count` elements take in raw_data. */
export function byteLength(info: DataTypeInfo, count: number): number {
  return info.bits < 8 ? Math.ceil((count * info.bits) / 8) : (count * info.bits) / 8;
}

export function isFloatType(dt: number): boolean {
  return dt === DataType.FLOAT || dt === DataType.DOUBLE || dt === DataType.FLOAT16 || dt === DataType.BFLOAT16;
}

/** float16 bits -> float32 value (exact). */
export function float16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 value -> float16 bits, round to nearest even (as numpy and torch do). */
export function float32ToFloat16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** bfloat16 bits -> float32 value (exact). */
export function bfloat16ToFloat32(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** float32 value -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function float32ToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
