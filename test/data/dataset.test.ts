/**
 * ArrayDataset.nextSteps: k batches stacked into reused buffers must hold exactly the rows that
 * k single batches would, bit for bit, for every element width (4-byte words, 8-byte int64 and
 * float64 with NaN payloads, 1- and 2-byte elements, and arrays that start at an odd byte).
 */
import { describe, expect, it } from 'vitest';
import { ArrayDataset } from '../../src/data/dataset.js';
import { DataType } from '../../src/onnx/data-types.js';
import type { Tensor } from '../../src/onnx/tensor.js';

const ROWS = 23;

function arrays(): Map<string, Tensor> {
  const f32 = Float32Array.from({ length: ROWS * 6 }, (_, i) => i * 0.5 - 7);
  const f64 = new Float64Array(ROWS * 2);
  const bits = new BigUint64Array(f64.buffer);
  // NaNs with distinct payloads: a copy through number reads could canonicalize them.
  for (let i = 0; i < bits.length; i++) bits[i] = i % 3 === 0 ? 0x7ff0_0000_0000_0001n + BigInt(i) : BigInt(Math.floor(i * 123457)) << 20n;
  const i64 = BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i) * 0x1_0000_0001n - 5n);
  const u8 = Uint8Array.from({ length: ROWS * 3 }, (_, i) => (i * 37) & 255);
  const f16 = Uint16Array.from({ length: ROWS * 5 }, (_, i) => (i * 7919) & 0xffff);
  // Bytes that start at an odd offset in their buffer (as a .npy reader can hand out).
  const raw = Uint8Array.from({ length: ROWS * 8 + 1 }, (_, i) => (i * 13) & 255);
  const oddBytes = new Uint8Array(raw.buffer, 1, ROWS * 8);
  return new Map<string, Tensor>([
    ['f32', { name: 'f32', dataType: DataType.FLOAT, dims: [ROWS, 2, 3], data: f32 }],
    ['f64', { name: 'f64', dataType: DataType.DOUBLE, dims: [ROWS, 2], data: f64 }],
    ['i64', { name: 'i64', dataType: DataType.INT64, dims: [ROWS], data: i64 }],
    ['u8', { name: 'u8', dataType: DataType.UINT8, dims: [ROWS, 3], data: u8 }],
    ['f16', { name: 'f16', dataType: DataType.FLOAT16, dims: [ROWS, 5], data: f16 }],
    ['odd', { name: 'odd', dataType: DataType.UINT8, dims: [ROWS, 8], data: oddBytes }],
  ]);
}

const bytes = (a: { data: ArrayBufferView }) => Array.from(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));

describe('ArrayDataset.nextSteps', () => {
  for (const shuffle of [false, true])
    it(`k stacked batches hold the rows of k single batches bit for bit (${shuffle ? 'shuffled' : 'in order'}, across epochs)`, () => {
      const stacked = new ArrayDataset(arrays(), { batchSize: 4, shuffle, seed: 7 });
      const single = new ArrayDataset(arrays(), { batchSize: 4, shuffle, seed: 7 });
      // 5 batches per epoch: 4 runs of k = 3 cross two epoch boundaries.
      for (let run = 0; run < 4; run++) {
        const got = stacked.nextSteps(3);
        // Copied at once: next() reuses its buffer too.
        const want = [0, 1, 2].map(() => Object.fromEntries(Object.entries(single.next()).map(([n, t]) => [n, bytes(t as { data: ArrayBufferView })])));
        for (const name of ['f32', 'f64', 'i64', 'u8', 'f16', 'odd']) {
          const rowDims = arrays().get(name)!.dims.slice(1);
          expect(got[name].dims).toEqual([3, 4, ...rowDims]);
          expect(bytes(got[name] as { data: ArrayBufferView })).toEqual(want.flatMap((b) => b[name]));
        }
      }
    });

  it('reuses its buffers from one call to the next', () => {
    const d = new ArrayDataset(arrays(), { batchSize: 4, shuffle: true, seed: 1 });
    const a = d.nextSteps(2).f32.data;
    const b = d.nextSteps(2).f32.data;
    expect(b).toBe(a);
  });
});
