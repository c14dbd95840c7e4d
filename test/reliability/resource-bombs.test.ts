/**
 * Resource bombs: small files that claim huge things. Each is refused with one typed line
 * before anything near the claimed size is allocated (process.memoryUsage() before and after),
 * without a stack overflow, quickly, through the API and the CLI: a tensor of 10^12 elements
 * (inline, typed, in a Constant, in external data), external data longer than its file, a graph
 * of 10^6 chained nodes, subgraphs nested 10^4 deep, .npy and safetensors headers claiming
 * 10^12 elements. (Shapes that only claim, declared on graph inputs, are in the fuzz
 * regressions: test/fixtures/fuzz/regressions/shape-bomb-*.)
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, LionOnnxError, ModelFormatError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import { MAX_NODES, loadModel, loadModelFromBytes } from '../../src/ir/model-io.js';
import { ModelProtoType, encodePlain, type GraphProto, type TensorProto } from '../../src/onnx/schema.js';
import { decodeNpy } from '../../src/data/npy.js';
import { decodeSafetensors } from '../../src/artifacts/safetensors.js';
import { chainModel, nestedModel } from '../helpers/bomb-models.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('lion-onnx-bombs-');
const MB = 2 ** 20;

/** Runs f, which must throw a one-line LionOnnxError, within `seconds`, allocating under `budgetMB` of memory and ArrayBuffers. */
function refusedCheaply(f: () => unknown, opts: { type?: typeof LionOnnxError; message: RegExp; budgetMB?: number; seconds?: number }): void {
  const before = process.memoryUsage();
  const t0 = performance.now();
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = process.memoryUsage();
  expect(err).toBeInstanceOf(opts.type ?? LionOnnxError);
  expect((err as Error).message).toMatch(opts.message);
  expect((err as Error).message).not.toMatch(/[\r\n]/);
  expect(seconds).toBeLessThan(opts.seconds ?? 5);
  const budget = (opts.budgetMB ?? 64) * MB;
  expect(after.arrayBuffers - before.arrayBuffers, 'ArrayBuffer bytes allocated').toBeLessThan(budget);
  expect(after.rss - before.rss, 'resident memory grown').toBeLessThan(budget);
}

function cliRefuses(args: string[], message: RegExp): void {
  const r = runCli(args, { timeout: 60_000 });
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^error: [^\n]*\n$/);
  expect(r.stderr).toMatch(message);
}

const header = { ir_version: 8, opset_import: [{ domain: '', version: 17 }] };
const modelWith = (graph: GraphProto) => encodePlain(ModelProtoType, { ...header, graph: { name: 'g', ...graph } });

describe('a tensor that claims 10^12 elements', () => {
  const huge = (extra: Partial<TensorProto>): TensorProto => ({ name: 'w', data_type: DataType.FLOAT, dims: [1e6, 1e6], ...extra });

  it('as an initializer with 4 bytes of raw_data, or one float_data value', () => {
    for (const t of [huge({ raw_data: new Uint8Array(4) }), huge({ float_data: [1] })])
      refusedCheaply(() => loadModelFromBytes(modelWith({ initializer: [t], output: [{ name: 'w' }] }), { source: 'huge.onnx' }), {
        type: ModelFormatError,
        message: /^huge\.onnx: initializer 'w': (raw_data holds 4 bytes|float_data holds 1 values) but 1000000x1000000 float32 needs/,
      });
  });

  it('as the value of a Constant node', () => {
    const bytes = modelWith({ node: [{ op_type: 'Constant', output: ['c'], name: 'const', attribute: [{ name: 'value', type: 4, t: huge({ raw_data: new Uint8Array(4) }) }] }], output: [{ name: 'c' }] });
    refusedCheaply(() => loadModelFromBytes(bytes, { source: 'const.onnx' }), { type: ModelFormatError, message: /attribute 'value' of node 'const' 'w': raw_data holds 4 bytes/ });
  });

  it('in external data of a 16-byte file, with and without a declared length', () => {
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(16));
    for (const [length, message] of [
      [undefined, /needs bytes 0\.\.4000000000000 of 'w\.bin', but the file has 16/],
      ['4000000000000', /needs bytes 0\.\.4000000000000 of 'w\.bin', but the file has 16/],
      ['16', /external data length 16 does not match 1000000x1000000 float32/],
    ] as const) {
      const external_data = [{ key: 'location', value: 'w.bin' }, ...(length ? [{ key: 'length', value: length }] : [])];
      const path = join(dir, `ext-${length ?? 'none'}.onnx`);
      writeFileSync(path, modelWith({ initializer: [huge({ data_location: 1, external_data })], output: [{ name: 'w' }] }));
      refusedCheaply(() => loadModel(path), { message });
    }
    cliRefuses(['inspect', join(dir, 'ext-none.onnx')], /the data file is truncated or belongs to another model/);
  });
});

describe('external data longer than its file', () => {
  it('1 GB claimed (within reach of an allocation) of a 64-byte file: refused before reading or allocating', () => {
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(64));
    const t: TensorProto = { name: 'big', data_type: DataType.FLOAT, dims: [2 ** 28], data_location: 1, external_data: [{ key: 'location', value: 'short.bin' }, { key: 'offset', value: '0' }] };
    const path = join(dir, 'long.onnx');
    writeFileSync(path, modelWith({ initializer: [t], output: [{ name: 'big' }] }));
    refusedCheaply(() => loadModel(path), { message: /needs bytes 0\.\.1073741824 of 'short\.bin', but the file has 64/, budgetMB: 32 });
  });
});

describe('a graph 10^6 nodes long', () => {
  for (const op of ['Identity', 'Add'] as const)
    it(`a chain of 10^6 ${op} nodes (${op === 'Add' ? 'each reading x too' : 'v[i] = v[i-1]'}): refused before decoding, through the API and the CLI`, { timeout: 120_000 }, () => {
      const bytes = chainModel(1_000_000, op);
      expect(bytes.length).toBeGreaterThan(20 * MB);
      refusedCheaply(() => loadModelFromBytes(bytes, { source: 'chain.onnx' }), {
        type: ModelFormatError,
        message: new RegExp(`^chain\\.onnx: the model has 1000000 nodes, more than the ${MAX_NODES} lion-onnx handles`),
        budgetMB: 64,
      });
      const path = join(dir, `chain-${op}.onnx`);
      writeFileSync(path, bytes);
      cliRefuses(['inspect', path], /the model has 1000000 nodes/);
      cliRefuses(['build', path, '--loss', 'mse', '--out', join(dir, `chain-${op}-out`)], /the model has 1000000 nodes/);
    });
});

describe('subgraphs nested 10^4 deep', () => {
  it('If inside If 10,000 times: refused while scanning, no RangeError, through the API and the CLI', { timeout: 60_000 }, () => {
    const bytes = nestedModel(10_000);
    refusedCheaply(() => loadModelFromBytes(bytes, { source: 'nested.onnx' }), {
      type: ModelFormatError,
      message: /^nested\.onnx: messages nested more than 100 deep \(subgraphs inside subgraphs/,
    });
    const path = join(dir, 'nested.onnx');
    writeFileSync(path, bytes);
    cliRefuses(['inspect', path], /messages nested more than 100 deep/);
  });
});

describe('data headers that claim 10^12 elements', () => {
  const npy = (header: string, body: number, version = 1) => {
    const h = new TextEncoder().encode(header);
    const pre = version === 1 ? Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8) : Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0, 0xff, 0xff, 0xff, 0xff);
    return new Uint8Array([...pre, ...h, ...new Uint8Array(body)]);
  };

  it('.npy: shape (1000000, 1000000) with 16 bytes of data, and a header length of 4 GB', () => {
    refusedCheaply(() => decodeNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }\n", 16), 'huge.npy'), {
      type: DataError,
      message: /^huge\.npy: not a valid \.npy file \(shape \(1000000, 1000000\) of <f4 needs 4000000000000 bytes of data, the file has 16\)/,
    });
    refusedCheaply(() => decodeNpy(npy('', 16, 2), 'header.npy'), { type: DataError, message: /header runs past the end of the file/ });
    writeFileSync(join(dir, 'huge.npy'), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }\n", 16));
  });

  it('safetensors: a tensor of shape [10^12], and a header length of 2^60', () => {
    const st = (header: object, body: number, declared?: bigint) => {
      const h = new TextEncoder().encode(JSON.stringify(header));
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
      return new Uint8Array([...len, ...h, ...new Uint8Array(body)]);
    };
    refusedCheaply(() => decodeSafetensors(st({ w: { dtype: 'F32', shape: [1e12], data_offsets: [0, 4e12] } }, 16), 'huge.safetensors'), {
      type: DataError,
      message: /tensor 'w' has data_offsets outside the file/,
    });
    refusedCheaply(() => decodeSafetensors(st({ w: { dtype: 'F32', shape: [1e12], data_offsets: [0, 16] } }, 16), 'huge.safetensors'), {
      type: DataError,
      message: /tensor 'w': 1000000000000 F32 needs 4000000000000 bytes, the entry holds 16/,
    });
    refusedCheaply(() => decodeSafetensors(st({}, 16, 2n ** 60n), 'header.safetensors'), { type: DataError, message: /header length 1152921504606846976 exceeds the file/ });
  });
});
