/**
 * safetensors: the bytes written match a layout built by hand from the format's specification
 * (8-byte little-endian header length, JSON header padded with spaces to 8 bytes, then the
 * tensors' little-endian bytes back to back), and malformed files fail with one DataError line.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/artifacts/safetensors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();

const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new TextEncoder().encode(s);

const SAMPLE: Tensor[] = [
  { name: 'w', dataType: DataType.FLOAT, dims: [2], data: Float32Array.of(1, -2) },
  { name: 'ids', dataType: DataType.INT64, dims: [], data: BigInt64Array.of(9223372036854775807n) },
  { name: 'h', dataType: DataType.FLOAT16, dims: [1, 3], data: Uint16Array.of(0x3c00, 0x7bff, 0x8000) },
];
const META = { format: 'lion-onnx/state', step: '3' };

/** The file for SAMPLE + META, written out by hand from the specification. */
function expectedFile(): Uint8Array {
  const json =
    '{"__metadata__":{"format":"lion-onnx/state","step":"3"},' +
    '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"ids":{"dtype":"I64","shape":[],"data_offsets":[8,16]},' +
    '"h":{"dtype":"F16","shape":[1,3],"data_offsets":[16,22]}}';
  expect(json.length).toBe(221);
  const header = json + '   '; // 8 + 221 + 3 = 232, a multiple of 8
  return concat([
    Uint8Array.of(224, 0, 0, 0, 0, 0, 0, 0),
    ascii(header),
    Uint8Array.of(0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0), // 1.0f, -2.0f
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), // INT64_MAX
    Uint8Array.of(0x00, 0x3c, 0xff, 0x7b, 0x00, 0x80), // f16 1, 65504, -0
  ]);
}

/** A file from a header object and data bytes, as any writer following the spec would make it. */
function fileOf(header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): Uint8Array {
  const h = ascii(headerText);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  return concat([len, h, data]);
}

describe('safetensors writing', () => {
  it('writes exactly the specified byte layout', () => {
    expect(hex(concat(encodeSafetensors(SAMPLE, META)))).toBe(hex(expectedFile()));
  });

  it('writes the file atomically and reads it back', () => {
    const path = join(dir, 'state.safetensors');
    writeSafetensors(path, SAMPLE, META);
    expect(readdirSync(dir)).toEqual(['state.safetensors']);
    expect(hex(readFileSync(path))).toBe(hex(expectedFile()));
    const back = readSafetensors(path);
    expect(back.metadata).toEqual(META);
    expect([...back.tensors.keys()]).toEqual(['w', 'ids', 'h']);
    for (const t of SAMPLE) {
      const u = back.tensors.get(t.name)!;
      expect(u.dataType).toBe(t.dataType);
      expect(u.dims).toEqual(t.dims);
      expect(u.data).toEqual(t.data);
    }
  });

  it('pads the header so the data starts 8-byte aligned, for every header length', () => {
    for (let n = 1; n <= 16; n++) {
      const bytes = concat(encodeSafetensors([{ name: 'x'.repeat(n), dataType: DataType.DOUBLE, dims: [1], data: Float64Array.of(n) }]));
      const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + len) % 8).toBe(0);
      expect(new DataView(bytes.buffer).getFloat64(8 + len, true)).toBe(n);
      expect(new TextDecoder().decode(bytes.subarray(8, 8 + len)).trimEnd()).toBe(`{"${'x'.repeat(n)}":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`);
    }
  });

  it('counts the header length in bytes, not characters (non-ASCII names)', () => {
    const bytes = concat(encodeSafetensors([{ name: 'poids_é', dataType: DataType.UINT8, dims: [1], data: Uint8Array.of(7) }]));
    const back = decodeSafetensors(bytes);
    expect(Array.from(back.tensors.get('poids_é')!.data as Uint8Array)).toEqual([7]);
    expect(bytes.at(-1)).toBe(7);
  });

  it('round-trips every dtype it maps, including empty tensors and bools', () => {
    const tensors: Tensor[] = [
      { name: 'f64', dataType: DataType.DOUBLE, dims: [2], data: Float64Array.of(Math.PI, -0) },
      { name: 'bf16', dataType: DataType.BFLOAT16, dims: [1], data: Uint16Array.of(0x3f80) },
      { name: 'i32', dataType: DataType.INT32, dims: [2], data: Int32Array.of(-(2 ** 31), 5) },
      { name: 'i16', dataType: DataType.INT16, dims: [1], data: Int16Array.of(-3) },
      { name: 'i8', dataType: DataType.INT8, dims: [1], data: Int8Array.of(-128) },
      { name: 'u16', dataType: DataType.UINT16, dims: [1], data: Uint16Array.of(65535) },
      { name: 'u32', dataType: DataType.UINT32, dims: [1], data: Uint32Array.of(2 ** 32 - 1) },
      { name: 'u64', dataType: DataType.UINT64, dims: [1], data: BigUint64Array.of(2n ** 64n - 1n) },
      { name: 'bool', dataType: DataType.BOOL, dims: [3], data: Uint8Array.of(1, 0, 1) },
      { name: 'f8', dataType: DataType.FLOAT8E4M3FN, dims: [1], data: Uint8Array.of(0x38) },
      { name: 'empty', dataType: DataType.FLOAT, dims: [0, 4], data: new Float32Array(0) },
    ];
    const back = decodeSafetensors(concat(encodeSafetensors(tensors)));
    expect(back.metadata).toEqual({});
    for (const t of tensors) {
      expect(back.tensors.get(t.name)!.dims, t.name).toEqual(t.dims);
      expect(back.tensors.get(t.name)!.dataType, t.name).toBe(t.dataType);
      expect(back.tensors.get(t.name)!.data, t.name).toEqual(t.data);
    }
  });

  it('refuses a type safetensors cannot hold, and duplicate names', () => {
    expect(() => encodeSafetensors([{ name: 's', dataType: DataType.STRING, dims: [1], data: [ascii('a')] }])).toThrow(DataError);
    const w = SAMPLE[0];
    expect(() => encodeSafetensors([w, { ...w }])).toThrow(/two tensors named 'w'/);
    expect(() => encodeSafetensors([{ ...w, name: '__metadata__' }])).toThrow(DataError);
  });
});

describe('safetensors reading', () => {
  it('reads a file laid out by hand, tensors in any order, header without padding', () => {
    const data = Uint8Array.of(0x00, 0x00, 0x80, 0x3f, 0x2a, 0, 0, 0);
    const file = fileOf({ b: { dtype: 'I32', shape: [1], data_offsets: [4, 8] }, a: { dtype: 'F32', shape: [], data_offsets: [0, 4] } }, data);
    const back = decodeSafetensors(file);
    expect(Array.from(back.tensors.get('a')!.data as Float32Array)).toEqual([1]);
    expect(Array.from(back.tensors.get('b')!.data as Int32Array)).toEqual([42]);
  });

  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', Uint8Array.of(1, 2, 3), /shorter than its 8-byte header length/],
    ['a header length past the end of the file', fileOf(good, eight).subarray(0, 20), /header length \d+ exceeds the file/],
    ['a huge header length', concat([huge, ascii('{}')]), /header length 4611686018427387904 exceeds the file/],
    ['a header that is not JSON', fileOf(null, eight, '{"w": [1, 2'), /header is not JSON/],
    ['a header that is a JSON array', fileOf([1, 2], eight), /not a JSON object/],
    ['an unknown dtype', fileOf({ w: { ...good.w, dtype: 'F128' } }, eight), /unsupported dtype "F128"/],
    ['a negative dimension', fileOf({ w: { ...good.w, shape: [-2] } }, eight), /invalid shape/],
    ['data_offsets past the end (truncated data)', fileOf(good, eight.subarray(0, 6)), /data_offsets outside the file/],
    ['data_offsets that do not match the shape', fileOf({ w: { ...good.w, shape: [3] } }, eight), /needs 12 bytes, the entry holds 8/],
    ['a shape of 10^12 elements over 8 bytes', fileOf({ w: { ...good.w, shape: [1e6, 1e6] } }, eight), /needs 4000000000000 bytes/],
    [
      'overlapping tensors',
      fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight),
      /overlap/,
    ],
    ['a hole in the data', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /hole/],
    ['bytes after the last tensor', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight), /cover 4 bytes of data but the file holds 8/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`${what}: DataError, one line`, () => {
      let err: Error | undefined;
      try {
        decodeSafetensors(bytes, 'bad.safetensors');
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(DataError);
      expect(err!.message).toMatch(/^bad\.safetensors: not a valid safetensors file \(/);
      expect(err!.message).toMatch(message);
      expect(err!.message).not.toContain('\n');
    });
  }

  it('a missing file: DataError naming it', () => {
    expect(() => readSafetensors(join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: file not found/);
  });
});
