/**
 * Every tensor element type with an array container survives TensorProto encoding in both forms
 * (raw_data and the typed field), alone and inside a saved model. Expected bytes are written out
 * with DataView from the values, independently of the code under test; float16/bfloat16
 * conversions are checked against known bit patterns and exhaustively against round-to-nearest-even.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ModelFormatError } from '../../src/errors.js';
import {
  DataType,
  arrayLength,
  bfloat16ToFloat32,
  dataTypeInfo,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  type TypedArray,
} from '../../src/onnx/data-types.js';
import { decodeModelProto, loadModel, loadModelFromBytes, modelToBytes, saveModel } from '../../src/ir/model-io.js';
import { ModelProtoType, encodePlain, type ModelProto, type TensorProto } from '../../src/onnx/schema.js';
import { makeTensor, tensorFromProto, tensorToNumbers, tensorToProto, type Tensor } from '../../src/onnx/tensor.js';
import { AttrType, Graph } from '../../src/ir/graph.js';
import { model } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();

type Slot = number | bigint;
interface Case {
  dataType: number;
  dims: number[];
  /** Values of the container slots (packed bytes for sub-byte types, re/im pairs for complex). */
  slots: Slot[];
  /** Bytes per slot and how DataView writes one, little-endian. */
  write: (dv: DataView, off: number, v: Slot) => void;
  size: number;
  /** TensorProto field of the typed form, and how a slot appears there. */
  field: string;
  typed: (v: Slot) => Slot;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const UINT64_MAX = 18446744073709551615n;
/** int64 in decoded protos: a number when exact, a bigint beyond 2^53. */
const int64Typed = (v: Slot) => (typeof v === 'bigint' && v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v);
const same = (v: Slot) => v;

const u8 = (dv: DataView, o: number, v: Slot) => dv.setUint8(o, Number(v));
const byteCase = (dataType: number, dims: number[], slots: number[]): Case => ({ dataType, dims, slots, write: u8, size: 1, field: 'int32_data', typed: same });

const CASES: Record<string, Case> = {
  float32: { dataType: DataType.FLOAT, dims: [2, 3], slots: [1.5, -0, -2.25, 3.4028234663852886e38, 2 ** -149, Infinity], write: (dv, o, v) => dv.setFloat32(o, Number(v), true), size: 4, field: 'float_data', typed: same },
  uint8: byteCase(DataType.UINT8, [2, 3], [0, 1, 127, 128, 254, 255]),
  int8: { dataType: DataType.INT8, dims: [6], slots: [-128, -1, 0, 1, 100, 127], write: (dv, o, v) => dv.setInt8(o, Number(v)), size: 1, field: 'int32_data', typed: same },
  uint16: { dataType: DataType.UINT16, dims: [3, 2], slots: [0, 1, 255, 256, 32768, 65535], write: (dv, o, v) => dv.setUint16(o, Number(v), true), size: 2, field: 'int32_data', typed: same },
  int16: { dataType: DataType.INT16, dims: [6], slots: [-32768, -1, 0, 1, 258, 32767], write: (dv, o, v) => dv.setInt16(o, Number(v), true), size: 2, field: 'int32_data', typed: same },
  int32: { dataType: DataType.INT32, dims: [6], slots: [-(2 ** 31), -1, 0, 1, 65536, 2 ** 31 - 1], write: (dv, o, v) => dv.setInt32(o, Number(v), true), size: 4, field: 'int32_data', typed: same },
  // torch exports Slice with ends = INT64_MAX: values beyond 2^53 must survive exactly.
  int64: { dataType: DataType.INT64, dims: [6], slots: [INT64_MAX, INT64_MIN, -1n, 2n ** 53n + 1n, 0n, 42n], write: (dv, o, v) => dv.setBigInt64(o, BigInt(v), true), size: 8, field: 'int64_data', typed: int64Typed },
  bool: byteCase(DataType.BOOL, [2, 3], [0, 1, 1, 0, 1, 0]),
  float16: { dataType: DataType.FLOAT16, dims: [6], slots: [0x3c00, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00], write: (dv, o, v) => dv.setUint16(o, Number(v), true), size: 2, field: 'int32_data', typed: same },
  float64: { dataType: DataType.DOUBLE, dims: [6], slots: [Math.PI, -0, 1e308, 5e-324, -Infinity, 1 / 3], write: (dv, o, v) => dv.setFloat64(o, Number(v), true), size: 8, field: 'double_data', typed: same },
  uint32: { dataType: DataType.UINT32, dims: [6], slots: [0, 1, 2 ** 31, 2 ** 32 - 1, 65535, 7], write: (dv, o, v) => dv.setUint32(o, Number(v), true), size: 4, field: 'uint64_data', typed: same },
  uint64: { dataType: DataType.UINT64, dims: [6], slots: [UINT64_MAX, 2n ** 63n, 0n, 1n, 2n ** 53n + 1n, 7n], write: (dv, o, v) => dv.setBigUint64(o, BigInt(v), true), size: 8, field: 'uint64_data', typed: int64Typed },
  complex64: { dataType: DataType.COMPLEX64, dims: [3], slots: [1, -1, 0.5, 2, -0, 1e-3], write: (dv, o, v) => dv.setFloat32(o, Number(v), true), size: 4, field: 'float_data', typed: (v) => Math.fround(Number(v)) },
  complex128: { dataType: DataType.COMPLEX128, dims: [3], slots: [1, -1, Math.E, 2, -0, 1e-300], write: (dv, o, v) => dv.setFloat64(o, Number(v), true), size: 8, field: 'double_data', typed: same },
  bfloat16: { dataType: DataType.BFLOAT16, dims: [6], slots: [0x3f80, 0xbf80, 0x7f7f, 0x0001, 0x7f80, 0x8000], write: (dv, o, v) => dv.setUint16(o, Number(v), true), size: 2, field: 'int32_data', typed: same },
  float8e4m3fn: byteCase(DataType.FLOAT8E4M3FN, [4], [0x38, 0x7e, 0x80, 0x7f]),
  float8e4m3fnuz: byteCase(DataType.FLOAT8E4M3FNUZ, [4], [0x40, 0x7f, 0x01, 0x80]),
  float8e5m2: byteCase(DataType.FLOAT8E5M2, [4], [0x3c, 0x7b, 0x7c, 0xfc]),
  float8e5m2fnuz: byteCase(DataType.FLOAT8E5M2FNUZ, [4], [0x40, 0x7f, 0x01, 0x80]),
  // int4 [-8, 7, -1, 0, 3]: two per byte, first element in the low nibble, odd count padded.
  int4: byteCase(DataType.INT4, [5], [0x78, 0x0f, 0x03]),
  // uint4 [1, 2, 15, 0, 9, 10]
  uint4: byteCase(DataType.UINT4, [2, 3], [0x21, 0x0f, 0xa9]),
  float4e2m1: byteCase(DataType.FLOAT4E2M1, [3], [0x72, 0x0f]),
  float8e8m0: byteCase(DataType.FLOAT8E8M0, [3], [0x7f, 0x00, 0xfe]),
  // 2-bit types: four per byte; 6 elements take 2 bytes.
  uint2: byteCase(DataType.UINT2, [6], [0b11100100, 0b0110]),
  int2: byteCase(DataType.INT2, [6], [0b00011011, 0b1110]),
};

/** Every code in DataType that has an array container is covered by a case above. */
const ARRAY_TYPES = Object.values(DataType).filter((dt) => dataTypeInfo(dt)?.array);

function expectedBytes(c: Case): Uint8Array {
  const out = new Uint8Array(c.slots.length * c.size);
  const dv = new DataView(out.buffer);
  c.slots.forEach((v, i) => c.write(dv, i * c.size, v));
  return out;
}

function makeData(c: Case): TypedArray {
  const Ctor = dataTypeInfo(c.dataType)!.array!;
  const bytes = expectedBytes(c);
  const data = new Ctor(bytes.length / Ctor.BYTES_PER_ELEMENT);
  new Uint8Array(data.buffer).set(bytes);
  return data;
}

function bytesOf(t: Tensor): number[] {
  const d = t.data as TypedArray;
  return Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

const hex = (b: ArrayLike<number>) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('tensor element types', () => {
  it('the table of cases covers every data type with an array container', () => {
    expect(ARRAY_TYPES.length).toBe(25);
    expect(new Set(Object.values(CASES).map((c) => c.dataType))).toEqual(new Set(ARRAY_TYPES));
    for (const c of Object.values(CASES)) {
      const info = dataTypeInfo(c.dataType)!;
      expect(arrayLength(info, c.dims.reduce((a, b) => a * b, 1)), info.name).toBe(c.slots.length);
      expect(info.field, info.name).toBe(c.field);
    }
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: raw_data holds the little-endian bytes and decodes back`, () => {
      const t: Tensor = { name, dataType: c.dataType, dims: c.dims, data: makeData(c), storage: 'raw' };
      const proto = tensorToProto(t);
      expect(hex(proto.raw_data!)).toBe(hex(expectedBytes(c)));
      expect(proto[c.field]).toBeUndefined();
      expect(proto.dims).toEqual(c.dims);
      const back = tensorFromProto(proto, null);
      expect(back.storage).toBe('raw');
      expect(back.dims).toEqual(c.dims);
      expect(back.data).toBeInstanceOf(dataTypeInfo(c.dataType)!.array!);
      expect(hex(bytesOf(back))).toBe(hex(expectedBytes(c)));
    });

    it(`${name}: the typed field holds the values and decodes back`, () => {
      const t: Tensor = { name, dataType: c.dataType, dims: c.dims, data: makeData(c), storage: 'typed' };
      const proto = tensorToProto(t);
      expect(proto.raw_data).toBeUndefined();
      expect(proto[c.field]).toEqual(c.slots.map(c.typed));
      const back = tensorFromProto(proto, null);
      expect(back.storage).toBe('typed');
      expect(hex(bytesOf(back))).toBe(hex(expectedBytes(c)));
    });
  }

  it('a model holding every type in both forms saves and loads with identical bytes (buffer and file)', () => {
    const g = new Graph();
    for (const [name, c] of Object.entries(CASES))
      for (const storage of ['raw', 'typed'] as const) g.initializers.push({ name: `${name}.${storage}`, dataType: c.dataType, dims: c.dims, data: makeData(c), storage });
    g.outputs = g.initializers.map((t) => ({ name: t.name }));
    const m = model(g);
    const path = join(dir, 'all-types.onnx');
    saveModel(m, path, { externalData: 'none' });
    for (const loaded of [loadModelFromBytes(modelToBytes(m)), loadModel(path)]) {
      expect(loaded.graph.initializers.map((t) => t.name)).toEqual(g.initializers.map((t) => t.name));
      for (const t of loaded.graph.initializers) {
        const c = CASES[t.name.split('.')[0]];
        expect(t.dataType, t.name).toBe(c.dataType);
        expect(t.dims, t.name).toEqual(c.dims);
        expect(t.storage, t.name).toBe(t.name.split('.')[1]);
        expect(hex(bytesOf(t)), t.name).toBe(hex(expectedBytes(c)));
      }
    }
    // The file itself, decoded without the IR, has raw_data exactly where asked for.
    const proto = decodeModelProto(modelToBytes(m));
    const int64Typed = proto.graph!.initializer!.find((t) => t.name === 'int64.typed')!;
    expect(int64Typed.int64_data).toEqual([INT64_MAX, INT64_MIN, -1, 2n ** 53n + 1n, 0, 42]);
    const uint64Raw = proto.graph!.initializer!.find((t) => t.name === 'uint64.raw')!;
    expect(new DataView(uint64Raw.raw_data!.buffer, uint64Raw.raw_data!.byteOffset).getBigUint64(0, true)).toBe(UINT64_MAX);
  });

  it('a Constant attribute with INT64_MAX (Slice ends, as torch exports) survives a save/load', () => {
    const g = new Graph();
    for (const storage of ['raw', 'typed'] as const) {
      const ends: Tensor = { name: '', dataType: DataType.INT64, dims: [1], data: BigInt64Array.of(INT64_MAX), storage };
      g.nodes.push({ opType: 'Constant', inputs: [], outputs: [`ends.${storage}`], attributes: [{ name: 'value', type: AttrType.TENSOR, value: ends }] });
      g.outputs.push({ name: `ends.${storage}` });
    }
    // Slice-1 takes ends as an INTS attribute; old exporters write INT64_MAX there.
    g.nodes.push({
      opType: 'Slice',
      inputs: ['ends.raw'],
      outputs: ['sliced'],
      attributes: [
        { name: 'ends', type: AttrType.INTS, value: [INT64_MAX, -1, 2 ** 53 - 1] },
        { name: 'starts', type: AttrType.INTS, value: [INT64_MIN, 0, 0] },
        { name: 'axis_hint', type: AttrType.INT, value: INT64_MAX },
      ],
    });
    const loaded = loadModelFromBytes(modelToBytes(model(g)));
    for (const n of loaded.graph.nodes.filter((x) => x.opType === 'Constant')) {
      const t = n.attributes[0].value as Tensor;
      expect((t.data as BigInt64Array)[0]).toBe(INT64_MAX);
      expect(t.storage).toBe(n.outputs[0].split('.')[1]);
    }
    const slice = loaded.graph.nodes.find((x) => x.opType === 'Slice')!;
    expect(slice.attributes.map((a) => a.value)).toEqual([[INT64_MAX, -1, 2 ** 53 - 1], [INT64_MIN, 0, 0], INT64_MAX]);
  });

  it('string tensors keep their bytes (typed string_data, whatever storage is asked for)', () => {
    const enc = new TextEncoder();
    const values = [enc.encode('héllo'), new Uint8Array(0), Uint8Array.of(0xff, 0x00, 0x80)];
    const g = new Graph();
    g.initializers.push({ name: 's.typed', dataType: DataType.STRING, dims: [3], data: values, storage: 'typed' });
    g.initializers.push({ name: 's.raw', dataType: DataType.STRING, dims: [3, 1], data: values, storage: 'raw' });
    const proto = tensorToProto(g.initializers[1]);
    expect(proto.raw_data).toBeUndefined();
    expect(proto.string_data!.map((s) => Array.from(s))).toEqual(values.map((s) => Array.from(s)));
    const loaded = loadModelFromBytes(modelToBytes(model(g)));
    for (const t of loaded.graph.initializers) {
      expect(t.dataType).toBe(DataType.STRING);
      expect(t.storage).toBe('typed');
      expect((t.data as Uint8Array[]).map((s) => Array.from(s))).toEqual(values.map((s) => Array.from(s)));
    }
    expect(loaded.graph.initializers[1].dims).toEqual([3, 1]);
  });

  it('an empty tensor (dims [0]) and a scalar (dims []) round-trip in both forms', () => {
    const g = new Graph();
    for (const storage of ['raw', 'typed'] as const) {
      g.initializers.push({ name: `empty.${storage}`, dataType: DataType.FLOAT, dims: [0], data: new Float32Array(0), storage });
      g.initializers.push({ name: `empty2d.${storage}`, dataType: DataType.INT64, dims: [3, 0], data: new BigInt64Array(0), storage });
      g.initializers.push({ name: `scalar.${storage}`, dataType: DataType.FLOAT, dims: [], data: Float32Array.of(-2.5), storage });
      g.initializers.push({ name: `scalar64.${storage}`, dataType: DataType.INT64, dims: [], data: BigInt64Array.of(INT64_MIN), storage });
    }
    const loaded = loadModelFromBytes(modelToBytes(model(g)));
    const got = Object.fromEntries(loaded.graph.initializers.map((t) => [t.name, t]));
    for (const storage of ['raw', 'typed']) {
      expect(got[`empty.${storage}`].dims).toEqual([0]);
      expect(got[`empty.${storage}`].data.length).toBe(0);
      expect(got[`empty2d.${storage}`].dims).toEqual([3, 0]);
      expect(got[`empty2d.${storage}`].data.length).toBe(0);
      expect(got[`scalar.${storage}`].dims).toEqual([]);
      expect(Array.from(got[`scalar.${storage}`].data as Float32Array)).toEqual([-2.5]);
      expect(Array.from(got[`scalar64.${storage}`].data as BigInt64Array)).toEqual([INT64_MIN]);
    }
    // Scalars in the file: no dims at all, one value.
    const proto = decodeModelProto(modelToBytes(model(g)));
    const scalarTyped = proto.graph!.initializer!.find((t) => t.name === 'scalar.typed')!;
    expect(scalarTyped.dims).toBeUndefined();
    expect(scalarTyped.float_data).toEqual([-2.5]);
  });

  it('tensorToNumbers decodes float16 and bfloat16 bits and int64', () => {
    expect(tensorToNumbers({ name: 'h', dataType: DataType.FLOAT16, dims: [4], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001) })).toEqual([1, -2, 65504, 2 ** -24]);
    expect(tensorToNumbers({ name: 'b', dataType: DataType.BFLOAT16, dims: [2], data: Uint16Array.of(0x3f80, 0xc040) })).toEqual([1, -3]);
    expect(tensorToNumbers({ name: 'i', dataType: DataType.INT64, dims: [2], data: BigInt64Array.of(-5n, 2n ** 40n) })).toEqual([-5, 2 ** 40]);
  });
});

describe('tensors whose dims do not match their data', () => {
  const huge = (extra: Partial<TensorProto>): TensorProto => ({ name: 'w', data_type: DataType.FLOAT, dims: [1e6, 1e6], ...extra });

  it('claims 10^12 floats with 4 bytes of raw_data: refused before allocating', () => {
    // Allocating 4 TB would throw a RangeError, not a ModelFormatError.
    expect(() => tensorFromProto(huge({ raw_data: new Uint8Array(4) }), null)).toThrow(ModelFormatError);
    expect(() => tensorFromProto(huge({ raw_data: new Uint8Array(4) }), null)).toThrow(/raw_data holds 4 bytes but 1000000x1000000 float32 needs 4000000000000/);
  });

  it('claims 10^12 floats with one value in float_data: refused', () => {
    expect(() => tensorFromProto(huge({ float_data: [1] }), null)).toThrow(/float_data holds 1 values but 1000000x1000000 float32 needs 1000000000000/);
  });

  it('claims 10^12 floats in external data: refused from the declared length before any read', () => {
    const external_data = [
      { key: 'location', value: 'w.data' },
      { key: 'length', value: '4' },
    ];
    const reader = () => {
      throw new Error('must not be called');
    };
    expect(() => tensorFromProto(huge({ data_location: 1, external_data }), reader)).toThrow(ModelFormatError);
  });

  it('an element count past 2^53, a negative dim, or a dim beyond int64 precision: refused', () => {
    expect(() => tensorFromProto(huge({ dims: [2 ** 30, 2 ** 30, 2 ** 30], raw_data: new Uint8Array(4) }), null)).toThrow(/too many/);
    expect(() => tensorFromProto(huge({ dims: [-1], raw_data: new Uint8Array(4) }), null)).toThrow(/invalid dimension -1/);
    expect(() => tensorFromProto(huge({ dims: [2n ** 60n], raw_data: new Uint8Array(4) }), null)).toThrow(ModelFormatError);
  });

  it('a uint32 tensor whose uint64_data holds a value past 2^53: ModelFormatError, not a TypeError', () => {
    const proto: TensorProto = { name: 'u', data_type: DataType.UINT32, dims: [2], uint64_data: [1, 2n ** 60n] };
    expect(() => tensorFromProto(proto, null)).toThrow(ModelFormatError);
    expect(() => tensorFromProto(proto, null)).toThrow(/uint64_data value 1152921504606846976 is out of range for uint32/);
  });

  it('makeTensor with more or fewer values than the dims hold: ModelFormatError', () => {
    expect(() => makeTensor('m', DataType.FLOAT, [2], [1, 2, 3])).toThrow(/makeTensor 'm': 2 needs 2 values, got 3/);
    expect(() => makeTensor('m', DataType.INT64, [2, 2], [1, 2, 3])).toThrow(ModelFormatError);
    expect(Array.from(makeTensor('m', DataType.INT64, [2], [-1, 2 ** 40]).data as BigInt64Array)).toEqual([-1n, 2n ** 40n]);
  });

  it('inside a model file: refused with ModelFormatError naming the file and the initializer', () => {
    const proto: ModelProto = {
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: { name: 'g', initializer: [huge({ raw_data: new Uint8Array(4) })], output: [{ name: 'w' }] },
    };
    const bytes = encodePlain(ModelProtoType, proto);
    let err: unknown;
    try {
      loadModelFromBytes(bytes, { source: 'huge.onnx' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as Error).message).toMatch(/^huge\.onnx: initializer 'w': raw_data holds 4 bytes/);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('float16 conversions', () => {
  it('decodes known bit patterns', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16ToFloat32(0x0400)).toBe(2 ** -14);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
    expect(float16ToFloat32(0x0000)).toBe(0);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
    expect(float16ToFloat32(0xfc01)).toBeNaN();
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x3555)).toBe(0.333251953125);
  });

  it('encodes known values', () => {
    expect(float32ToFloat16(1)).toBe(0x3c00);
    expect(float32ToFloat16(65504)).toBe(0x7bff);
    expect(float32ToFloat16(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16(2 ** -14)).toBe(0x0400);
    expect(float32ToFloat16(-0)).toBe(0x8000);
    expect(float32ToFloat16(0)).toBe(0x0000);
    expect(float32ToFloat16(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16(-Infinity)).toBe(0xfc00);
    expect(float32ToFloat16(1e6)).toBe(0x7c00);
    expect(float32ToFloat16(-1e-8)).toBe(0x8000);
    const nan = float32ToFloat16(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
  });

  it('rounds ties to even', () => {
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // halfway 0x3c00..0x3c01 -> even 0x3c00
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 0x3c01..0x3c02 -> even 0x3c02
    expect(float32ToFloat16(1 + 2 ** -11 + 2 ** -23)).toBe(0x3c01); // just above halfway
    expect(float32ToFloat16(2049)).toBe(0x6800); // 2048 | 2050
    expect(float32ToFloat16(2051)).toBe(0x6802); // 2050 | 2052 -> 2052
    expect(float32ToFloat16(65519)).toBe(0x7bff); // below halfway to 65536
    expect(float32ToFloat16(65520)).toBe(0x7c00); // halfway 65504..65536 rounds to even: infinity
    expect(float32ToFloat16(2 ** -25)).toBe(0x0000); // halfway 0..2^-24 -> 0
    expect(float32ToFloat16(1.5 * 2 ** -25)).toBe(0x0001);
    expect(float32ToFloat16(3 * 2 ** -25)).toBe(0x0002); // halfway 1..2 subnormal ulps -> 2
    expect(float32ToFloat16(-(5 * 2 ** -25))).toBe(0x8002); // halfway 2..3 -> 2
  });

  it('every finite half is exact, and every midpoint between neighbours rounds to the even one', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const next = (x: number, dir: 1 | -1) => {
      f[0] = x;
      u[0] += dir; // toward (-1) or away from (+1) zero, either sign
      return f[0];
    };
    const bad: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = float16ToFloat32(h);
      if (Number.isNaN(v)) continue;
      if (float32ToFloat16(v) !== h) bad.push(`exact ${h.toString(16)}`);
      const hi = h + 1;
      if ((h & 0x7fff) >= 0x7bff) continue; // no finite neighbour above in magnitude
      const m = (v + float16ToFloat32(hi)) / 2; // exact in float32: 12 significant bits
      expect(Math.fround(m)).toBe(m);
      const even = h % 2 === 0 ? h : hi;
      if (float32ToFloat16(m) !== even) bad.push(`midpoint ${h.toString(16)}`);
      if (m !== 0) {
        if (float32ToFloat16(next(m, -1)) !== h) bad.push(`below midpoint ${h.toString(16)}`);
        if (float32ToFloat16(next(m, 1)) !== hi) bad.push(`above midpoint ${h.toString(16)}`);
      }
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });
});

describe('bfloat16 conversions', () => {
  it('known bit patterns', () => {
    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(float32ToBfloat16(1)).toBe(0x3f80);
    expect(float32ToBfloat16(-2)).toBe(0xc000);
    expect(float32ToBfloat16(-0)).toBe(0x8000);
    expect(float32ToBfloat16(Infinity)).toBe(0x7f80);
    expect(bfloat16ToFloat32(0x7f7f)).toBe(3.3895313892515355e38);
    expect(bfloat16ToFloat32(0x0001)).toBe(2 ** -133);
    expect(Object.is(bfloat16ToFloat32(0x8000), -0)).toBe(true);
    expect(bfloat16ToFloat32(0x7fc0)).toBeNaN();
    const nan = float32ToBfloat16(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
    // A NaN whose payload lives only in the low 16 bits must not become infinity.
    const f = new Float32Array(1);
    new Uint32Array(f.buffer)[0] = 0x7f800001;
    expect(float32ToBfloat16(f[0]) & 0x7f).not.toBe(0);
  });

  it('rounds ties to even', () => {
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16(1 + 2 ** -8 + 2 ** -23)).toBe(0x3f81);
    expect(float32ToBfloat16(3.4028234663852886e38)).toBe(0x7f80); // float32 max is past bf16's last midpoint
  });

  it('every non-NaN bfloat16 is exact', () => {
    const bad: number[] = [];
    for (let b = 0; b < 0x10000; b++) {
      const v = bfloat16ToFloat32(b);
      if (!Number.isNaN(v) && float32ToBfloat16(v) !== b) bad.push(b);
    }
    expect(bad).toEqual([]);
  });
});
