/**
 * .npy files: files numpy wrote decode to the right shape, dtype and values; what we write
 * follows numpy's header rules (magic, version 1.0, a dict literal padded with spaces so the
 * preamble and header fill a multiple of 64 bytes, ending in a newline); malformed files fail
 * with one DataError line.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../src/data/npy.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const X_NPY = join(REPO, 'models/mlp_training_data/x.npy');

/**
 * Small files written by numpy 2.4.6: `np.lib.format.write_array(f, arr, version=...)`, bytes in
 * hex. numpy pads its headers with extra spaces (room to grow the first axis in place).
 */
const NUMPY = {
  // np.array([2**63-1, -1, 0], dtype='<i8')
  int64: '934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200affffffffffffff7fffffffffffffffff0000000000000000',
  // np.array([[True, False], [False, True]])
  bool: '934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a01000001',
  // np.float16(65504).reshape(())
  float16Scalar: '934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200aff7b',
  // np.zeros((0,), dtype='<u2')
  uint16Empty: '934e554d5059010076007b276465736372273a20273c7532272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a',
  // np.array([1.5, -2.0]) written with version=(2, 0): a 4-byte header length
  float64V2: '934e554d50590200740000007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000f83f00000000000000c0',
  // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
  fortran: '934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000040400000803f00008040000000400000a040',
  // np.array([1.0], dtype='>f4')
  bigEndian: '934e554d5059010076007b276465736372273a20273e6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a3f800000',
  // np.array([1+2j], dtype='<c8')
  complex64: '934e554d5059010076007b276465736372273a20273c6338272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f00000040',
};
const numpyFile = (k: keyof typeof NUMPY) => Uint8Array.from(Buffer.from(NUMPY[k], 'hex'));

/** Checks the structure numpy's reader requires and returns the header text and payload. */
function parseAsNumpyWould(bytes: Uint8Array): { header: string; payload: Uint8Array } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const hlen = bytes[8] | (bytes[9] << 8);
  expect((10 + hlen) % 64).toBe(0);
  const header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + hlen));
  expect(header.endsWith('\n')).toBe(true);
  expect(header.trimEnd()).toMatch(/^\{'descr': '[<|][a-z]\d', 'fortran_order': False, 'shape': \((\d+,( \d+,?)*|\d+(, \d+)+)?\), \}$/);
  return { header: header.trimEnd(), payload: bytes.subarray(10 + hlen) };
}

describe('reading files numpy wrote', () => {
  it('models/mlp_training_data/x.npy: float32 [64, 16], values as in the payload', () => {
    const raw = readFileSync(X_NPY);
    const t = readNpy(X_NPY, 'x');
    expect(t).toMatchObject({ name: 'x', dataType: DataType.FLOAT, dims: [64, 16] });
    const data = t.data as Float32Array;
    expect(data).toBeInstanceOf(Float32Array);
    expect(data.length).toBe(1024);
    // numpy's header here is 118 bytes, so the payload starts at 128.
    expect(raw.length).toBe(128 + 4096);
    const dv = new DataView(raw.buffer, raw.byteOffset);
    for (const i of [0, 1, 17, 511, 1023]) expect(data[i]).toBe(dv.getFloat32(128 + 4 * i, true));
    // Standard normal samples: a loose sanity check that the bytes are not misread.
    const mean = data.reduce((s, v) => s + v, 0) / data.length;
    const sd = Math.sqrt(data.reduce((s, v) => s + (v - mean) ** 2, 0) / data.length);
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(sd).toBeGreaterThan(0.85);
    expect(sd).toBeLessThan(1.15);
  });

  it('re-encoding x.npy gives a file numpy accepts, with the same header dict and identical data bytes', () => {
    const raw = readFileSync(X_NPY);
    const out = encodeNpy(readNpy(X_NPY));
    const { header, payload } = parseAsNumpyWould(out);
    expect(header).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (64, 16), }");
    // numpy's own header has the same dict, then its spaces.
    expect(new TextDecoder('latin1').decode(raw.subarray(10, 128)).trimEnd()).toBe(header);
    expect(Buffer.from(payload).equals(raw.subarray(128))).toBe(true);
    expect(out.length).toBe(128 + 4096); // a 61-character dict does not fit in 64 bytes with the preamble
  });

  it('int64 beyond 2^53, bool, a float16 scalar, an empty uint16 and a version 2.0 file', () => {
    const i64 = decodeNpy(numpyFile('int64'));
    expect(i64).toMatchObject({ dataType: DataType.INT64, dims: [3] });
    expect(Array.from(i64.data as BigInt64Array)).toEqual([9223372036854775807n, -1n, 0n]);
    const b = decodeNpy(numpyFile('bool'));
    expect(b).toMatchObject({ dataType: DataType.BOOL, dims: [2, 2] });
    expect(Array.from(b.data as Uint8Array)).toEqual([1, 0, 0, 1]);
    const h = decodeNpy(numpyFile('float16Scalar'));
    expect(h).toMatchObject({ dataType: DataType.FLOAT16, dims: [] });
    expect(Array.from(h.data as Uint16Array)).toEqual([0x7bff]);
    const e = decodeNpy(numpyFile('uint16Empty'));
    expect(e).toMatchObject({ dataType: DataType.UINT16, dims: [0] });
    expect(e.data.length).toBe(0);
    const v2 = decodeNpy(numpyFile('float64V2'));
    expect(v2).toMatchObject({ dataType: DataType.DOUBLE, dims: [2] });
    expect(Array.from(v2.data as Float64Array)).toEqual([1.5, -2]);
  });

  it('what we write for those arrays has numpy’s dict, byte for byte, and the same data', () => {
    for (const k of ['int64', 'bool', 'float16Scalar', 'uint16Empty', 'float64V2'] as const) {
      const original = numpyFile(k);
      const out = encodeNpy(decodeNpy(original));
      const { header, payload } = parseAsNumpyWould(out);
      const start = original[6] === 1 ? 10 : 12;
      const hlen = original[6] === 1 ? original[8] | (original[9] << 8) : new DataView(original.buffer).getUint32(8, true);
      expect(header, k).toBe(new TextDecoder('latin1').decode(original.subarray(start, start + hlen)).trimEnd());
      expect(Buffer.from(payload).equals(Buffer.from(original.subarray(start + hlen))), k).toBe(true);
    }
  });
});

describe('writing and reading back', () => {
  const cases: Tensor[] = [
    { name: 'f32', dataType: DataType.FLOAT, dims: [2, 3], data: Float32Array.of(1, -0, 2.5, Infinity, -1e-30, 3) },
    { name: 'f64', dataType: DataType.DOUBLE, dims: [1], data: Float64Array.of(Math.PI) },
    { name: 'i64', dataType: DataType.INT64, dims: [2], data: BigInt64Array.of(-9223372036854775808n, 2n ** 53n + 1n) },
    { name: 'u64', dataType: DataType.UINT64, dims: [1], data: BigUint64Array.of(2n ** 64n - 1n) },
    { name: 'i32', dataType: DataType.INT32, dims: [1, 1, 2], data: Int32Array.of(-7, 7) },
    { name: 'i16', dataType: DataType.INT16, dims: [1], data: Int16Array.of(-32768) },
    { name: 'i8', dataType: DataType.INT8, dims: [2], data: Int8Array.of(-128, 127) },
    { name: 'u8', dataType: DataType.UINT8, dims: [2], data: Uint8Array.of(0, 255) },
    { name: 'u16', dataType: DataType.UINT16, dims: [1], data: Uint16Array.of(65535) },
    { name: 'u32', dataType: DataType.UINT32, dims: [1], data: Uint32Array.of(2 ** 32 - 1) },
    { name: 'f16', dataType: DataType.FLOAT16, dims: [], data: Uint16Array.of(0x3c00) },
    { name: 'bool', dataType: DataType.BOOL, dims: [0, 3], data: new Uint8Array(0) },
  ];
  const DESCR: Record<string, string> = { f32: '<f4', f64: '<f8', i64: '<i8', u64: '<u8', i32: '<i4', i16: '<i2', i8: '|i1', u8: '|u1', u16: '<u2', u32: '<u4', f16: '<f2', bool: '|b1' };
  const SHAPE: Record<string, string> = { f32: '(2, 3)', f64: '(1,)', i32: '(1, 1, 2)', f16: '()', bool: '(0, 3)' };

  for (const t of cases) {
    it(`${t.name}: numpy's header for descr and shape, and the data back`, () => {
      const out = encodeNpy(t);
      const { header, payload } = parseAsNumpyWould(out);
      expect(header).toBe(`{'descr': '${DESCR[t.name]}', 'fortran_order': False, 'shape': ${SHAPE[t.name] ?? `(${t.dims[0]},)`}, }`);
      const d = t.data as ArrayBufferView;
      expect(Buffer.from(payload).equals(Buffer.from(d.buffer, d.byteOffset, d.byteLength))).toBe(true);
      const back = decodeNpy(out);
      expect(back.dataType).toBe(t.dataType);
      expect(back.dims).toEqual(t.dims);
      expect(back.data).toEqual(t.data);
    });
  }

  it('writeNpy writes atomically (no temp file left) and readNpy reads it', () => {
    const path = join(dir, 'w.npy');
    writeNpy(path, cases[0]);
    expect(readdirSync(dir)).toEqual(['w.npy']);
    expect(readNpy(path).data).toEqual(cases[0].data);
  });

  it('refuses a type .npy cannot hold here', () => {
    expect(() => encodeNpy({ name: 's', dataType: DataType.STRING, dims: [1], data: [new Uint8Array(1)] })).toThrow(DataError);
    expect(() => encodeNpy({ name: 'b', dataType: DataType.BFLOAT16, dims: [1], data: Uint16Array.of(1) })).toThrow(DataError);
  });
});

describe('malformed .npy files', () => {
  const x = readFileSync(X_NPY);
  const withHeader = (header: string, data = new Uint8Array(0), version = 1) => {
    const h = new TextEncoder().encode(header);
    const pre = version === 1 ? 10 : 12;
    const out = new Uint8Array(pre + h.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
    if (version === 1) new DataView(out.buffer).setUint16(8, h.length, true);
    else new DataView(out.buffer).setUint32(8, h.length, true);
    out.set(h, pre);
    out.set(data, pre + h.length);
    return out;
  };
  const hugeHeader = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0xff, 0x7b);
  const badMagic = Uint8Array.from(x);
  badMagic[1] = 0x4f;
  const wrongVersion = Uint8Array.from(x);
  wrongVersion[6] = 4;

  const cases: [string, Uint8Array, RegExp][] = [
    ['the first 5 bytes', x.subarray(0, 5), /missing the \\x93NUMPY magic/],
    ['a header cut short', x.subarray(0, 100), /header runs past the end of the file/],
    ['data 4 bytes short of the shape', x.subarray(0, x.length - 4), /shape \(64, 16\) of <f4 needs 4096 bytes of data, the file has 4092/],
    ['4 extra bytes after the data', Uint8Array.from([...x, 0, 0, 0, 0]), /needs 4096 bytes of data, the file has 4100/],
    ['bad magic', badMagic, /missing the \\x93NUMPY magic/],
    ['format version 4', wrongVersion, /format version 4 is not supported/],
    ['a huge header length (version 2)', hugeHeader, /header runs past the end of the file/],
    ['Fortran order (written by numpy)', numpyFile('fortran'), /Fortran-order arrays are not supported/],
    ['big-endian float32 (written by numpy)', numpyFile('bigEndian'), /dtype '>f4' is not supported/],
    ['complex64 (written by numpy)', numpyFile('complex64'), /dtype '<c8' is not supported/],
    ['an object array', withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(8)), /dtype '\|O' is not supported/],
    ['a structured dtype', withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(4)), /lacks descr, fortran_order or shape/],
    ['a header without shape', withHeader("{'descr': '<f4', 'fortran_order': False, }\n"), /lacks descr, fortran_order or shape/],
    ['a negative dimension', withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n"), /invalid dimension '-1'/],
    ['a shape of 10^12 x 10^12 with no data', withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }\n"), /needs .* bytes of data, the file has 0/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`${what}: DataError, one line naming the file`, () => {
      let err: Error | undefined;
      try {
        decodeNpy(bytes, 'bad.npy');
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(DataError);
      expect(err!.message).toMatch(/^bad\.npy: not a valid \.npy file \(/);
      expect(err!.message).toMatch(message);
      expect(err!.message).not.toContain('\n');
    });
  }

  it('a missing file: DataError naming it', () => {
    expect(() => readNpy(join(dir, 'missing.npy'))).toThrow(/missing\.npy: file not found/);
  });
});
