/**
 * Tensors as TypedArrays, and the conversion to and from TensorProto (raw_data or the typed
 * fields, whichever the file used, so a load/save round trip writes the same form back).
 */
import { ModelFormatError } from '../errors.js';
import {
  DataType,
  arrayLength,
  bfloat16ToFloat32,
  float16ToFloat32,
  byteLength,
  dataTypeInfo,
  dataTypeName,
  type DataTypeInfo,
  type TensorData,
  type TypedArray,
} from './data-types.js';
import type { Int64, TensorProto } from './schema.js';

/** Where an external tensor's bytes were found (as written in the file). */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
  /** Other external_data entries (e.g. checksum), kept verbatim. */
  other: { key: string; value: string }[];
}

export interface Tensor {
  name: string;
  dataType: number;
  dims: number[];
  data: TensorData;
  /** How the file stored the values; saving writes the same form. Default: raw. */
  storage?: 'raw' | 'typed' | 'external';
  /** For storage 'external': where the bytes came from. */
  external?: ExternalRef;
  docString?: string;
  /** TensorProto fields the IR does not model (segment, metadata_props, ...), verbatim. */
  extra?: Record<string, unknown>;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Reads external bytes for a tensor; supplied by the model loader (see external-data.ts). */
export type ExternalReader = (ref: ExternalRef, tensorName: string) => Uint8Array;

/** Byte view of a tensor's values (little-endian, as raw_data stores them). */
export function tensorBytes(t: Tensor): Uint8Array {
  if (Array.isArray(t.data)) throw new ModelFormatError(`tensor '${t.name}': string tensors have no raw bytes`);
  const d = t.data as TypedArray;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A TypedArray over `bytes` for the type; views the same memory when aligned, else copies. */
function typedFromBytes(info: DataTypeInfo, bytes: Uint8Array, slots: number): TypedArray {
  const Ctor = info.array!;
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, bytes.byteOffset, slots);
  const out = new Ctor(slots);
  new Uint8Array(out.buffer).set(bytes.subarray(0, slots * Ctor.BYTES_PER_ELEMENT));
  return out;
}

function checkDims(proto: TensorProto, where: string): number[] {
  const dims = (proto.dims ?? []).map((d) => {
    const n = typeof d === 'bigint' ? Number.NaN : d;
    if (!Number.isSafeInteger(n) || n < 0) throw new ModelFormatError(`${where}: invalid dimension ${String(d)}`);
    return n;
  });
  const count = elementCount(dims);
  if (!Number.isSafeInteger(count)) throw new ModelFormatError(`${where}: ${dims.join('x')} elements is too many`);
  return dims;
}

/**
 * Decodes a TensorProto. The element count implied by dims must match the stored values, so
 * a proto that claims a huge shape with little data is refused before anything is allocated.
 */
export function tensorFromProto(proto: TensorProto, readExternal: ExternalReader | null, where = 'tensor'): Tensor {
  const { dims: _d, data_type, name, doc_string, raw_data, external_data, data_location, float_data, int32_data, string_data, int64_data, double_data, uint64_data, ...extra } = proto;
  const label = `${where} '${name ?? ''}'`;
  const dims = checkDims(proto, label);
  const dataType = data_type ?? 0;
  const info = dataTypeInfo(dataType);
  if (!info) throw new ModelFormatError(`${label}: unsupported data type ${dataType}`);
  const count = elementCount(dims);
  const t: Tensor = { name: name ?? '', dataType, dims, data: new Float32Array(0) };
  if (doc_string !== undefined) t.docString = doc_string;
  // An explicitly empty name must be written back as such (proto2 keeps presence).
  if (name === '') (extra as Record<string, unknown>).name = '';
  if (Object.keys(extra).length) t.extra = extra;

  if (data_location === 1) {
    const ref = parseExternalRef(external_data ?? [], label);
    const expected = byteLength(info, count);
    if (dataType === DataType.STRING) throw new ModelFormatError(`${label}: string tensors cannot use external data`);
    if (ref.length >= 0 && ref.length !== expected)
      throw new ModelFormatError(`${label}: external data length ${ref.length} does not match ${dims.join('x')} ${info.name} (${expected} bytes)`);
    if (!readExternal) throw new ModelFormatError(`${label}: uses external data but the model was loaded from a buffer without a folder; load it from its file`);
    const bytes = readExternal({ ...ref, length: expected }, t.name);
    t.data = typedFromBytes(info, bytes, arrayLength(info, count));
    t.storage = 'external';
    t.external = ref;
    return t;
  }
  if (raw_data !== undefined) {
    if (dataType === DataType.STRING) throw new ModelFormatError(`${label}: string tensors cannot use raw_data`);
    const expected = byteLength(info, count);
    if (raw_data.length !== expected)
      throw new ModelFormatError(`${label}: raw_data holds ${raw_data.length} bytes but ${dims.join('x')} ${info.name} needs ${expected}`);
    t.data = typedFromBytes(info, raw_data, arrayLength(info, count));
    t.storage = 'raw';
    return t;
  }
  t.storage = 'typed';
  const values = (proto[info.field!] as unknown[] | undefined) ?? [];
  const slots = dataType === DataType.STRING ? count : arrayLength(info, count);
  if (values.length !== slots)
    throw new ModelFormatError(`${label}: ${info.field} holds ${values.length} values but ${dims.join('x')} ${info.name} needs ${slots}`);
  if (dataType === DataType.STRING) {
    t.data = (values as Uint8Array[]).map((s) => new Uint8Array(s));
  } else if (dataType === DataType.INT64 || dataType === DataType.UINT64) {
    const arr = dataType === DataType.INT64 ? new BigInt64Array(slots) : new BigUint64Array(slots);
    for (let i = 0; i < slots; i++) arr[i] = BigInt(values[i] as Int64);
    t.data = arr;
  } else {
    const arr = new info.array!(slots);
    for (let i = 0; i < slots; i++) {
      const v = values[i];
      // uint64_data (uint32 tensors) decodes values past 2^53 as bigints, which no 32-bit slot holds.
      if (typeof v === 'bigint') throw new ModelFormatError(`${label}: ${info.field} value ${v} is out of range for ${info.name}`);
      (arr as Float32Array)[i] = v as number;
    }
    t.data = arr;
  }
  return t;
}

function parseExternalRef(entries: { key?: string; value?: string }[], label: string): ExternalRef {
  const ref: ExternalRef = { location: '', offset: 0, length: -1, other: [] };
  for (const { key = '', value = '' } of entries) {
    if (key === 'location') ref.location = value;
    else if (key === 'offset' || key === 'length') {
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
        throw new ModelFormatError(`${label}: external data ${key} '${value}' is not a non-negative integer`);
      ref[key] = n;
    } else ref.other.push({ key, value });
  }
  if (!ref.location) throw new ModelFormatError(`${label}: external data has no location`);
  return ref;
}

/** Where saveModel placed an external tensor's bytes. */
export interface ExternalPlacement {
  location: string;
  offset: number;
  length: number;
}

/** Encodes a tensor; `placement` given means its bytes were written to an external file. */
export function tensorToProto(t: Tensor, placement?: ExternalPlacement): TensorProto {
  const info = dataTypeInfo(t.dataType);
  if (!info) throw new ModelFormatError(`tensor '${t.name}': unsupported data type ${t.dataType}`);
  const proto: TensorProto = { ...(t.extra ?? {}) };
  if (t.dims.length) proto.dims = [...t.dims];
  proto.data_type = t.dataType;
  if (t.name) proto.name = t.name;
  if (t.docString !== undefined) proto.doc_string = t.docString;
  if (placement) {
    proto.data_location = 1;
    const other = t.external?.other.filter((e) => e.key !== 'checksum') ?? [];
    proto.external_data = [
      { key: 'location', value: placement.location },
      { key: 'offset', value: String(placement.offset) },
      { key: 'length', value: String(placement.length) },
      ...other,
    ];
    return proto;
  }
  const count = elementCount(t.dims);
  checkDataLength(t, info, count);
  if (t.dataType === DataType.STRING) {
    proto.string_data = t.data as Uint8Array[];
    return proto;
  }
  if (t.storage === 'typed') {
    const d = t.data as TypedArray;
    const fields = proto as Record<string, unknown>;
    if (d instanceof BigInt64Array || d instanceof BigUint64Array)
      fields[info.field!] = Array.from(d as BigInt64Array, (v: bigint) => (v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v));
    else fields[info.field!] = Array.from(d as ArrayLike<number>);
    return proto;
  }
  proto.raw_data = tensorBytes(t);
  return proto;
}

function checkDataLength(t: Tensor, info: DataTypeInfo, count: number): void {
  const need = t.dataType === DataType.STRING ? count : arrayLength(info, count);
  const have = (t.data as ArrayLike<unknown>).length;
  if (have !== need)
    throw new ModelFormatError(`tensor '${t.name}': ${dataTypeName(t.dataType)} ${t.dims.join('x')} needs ${need} values, has ${have}`);
}

/** Makes a tensor from values (copied into a TypedArray of the data type). */
export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number> | TypedArray): Tensor {
  const info = dataTypeInfo(dataType);
  if (!info?.array) throw new ModelFormatError(`makeTensor: unsupported data type ${dataTypeName(dataType)}`);
  const slots = arrayLength(info, elementCount(dims));
  // Checked first: too many values would make set() throw a RangeError instead.
  if ((values as ArrayLike<number>).length !== slots)
    throw new ModelFormatError(`makeTensor '${name}': ${dims.join('x')} needs ${slots} values, got ${(values as ArrayLike<number>).length}`);
  const data = new info.array(slots);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < slots; i++) data[i] = BigInt((values as ArrayLike<number | bigint>)[i]);
  } else (data as Float32Array).set(values as ArrayLike<number>);
  return { name, dataType, dims: [...dims], data };
}

/** Values of a numeric tensor as plain numbers (int64 converted; float16/bfloat16 decoded). */

/** A tensor's values as numbers, whatever its storage type (small integer tensors: shapes, axes). */
export function tensorToNumbers(t: Tensor): number[] {
  const d = t.data as TypedArray;
  if (t.dataType === DataType.FLOAT16) return Array.from(d as Uint16Array, float16ToFloat32);
  if (t.dataType === DataType.BFLOAT16) return Array.from(d as Uint16Array, bfloat16ToFloat32);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, (v) => Number(v));
  return Array.from(d as ArrayLike<number>);
}
