/**
 * External data: tensors whose bytes live in a file beside the model. Saving writes
 * `<model>.onnx.data` (64-byte aligned), loading reads it back; a location that could leave the
 * model's folder, or a data file that does not hold the bytes, is refused with one line.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExternalDataError, ModelFormatError, UsageError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import { decodeModelProto, loadModel, loadModelFromBytes, saveModel } from '../../src/ir/model-io.js';
import { ModelProtoType, encodePlain, type TensorProto } from '../../src/onnx/schema.js';
import { makeTensor, type Tensor } from '../../src/onnx/tensor.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { runCli } from '../helpers/cli.js';
import { model } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir();
let n = 0;
/** A fresh empty folder per case, so files of one case never satisfy another. */
function folder(): string {
  const d = join(root, `case${n++}`);
  mkdirSync(d);
  return d;
}

const ramp = (count: number, scale = 1) => Array.from({ length: count }, (_, i) => (i - count / 2) * scale);

/** Three tensors: two big float32/int64 ones and a small one. */
function sampleModel(): Model {
  const g = new Graph();
  g.initializers.push(makeTensor('big', DataType.FLOAT, [16, 20], ramp(320, 0.25)));
  g.initializers.push(makeTensor('ids', DataType.INT64, [130], ramp(130, 3)));
  g.initializers.push(makeTensor('small', DataType.FLOAT, [3], [1, 2, 3]));
  g.outputs = g.initializers.map((t) => ({ name: t.name }));
  return model(g);
}

function bytes(t: Tensor): number[] {
  const d = t.data as ArrayBufferView;
  return Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

function expectSameTensors(a: Model, b: Model): void {
  expect(b.graph.initializers.map((t) => t.name)).toEqual(a.graph.initializers.map((t) => t.name));
  for (const [i, t] of a.graph.initializers.entries()) {
    const u = b.graph.initializers[i];
    expect(u.dataType, t.name).toBe(t.dataType);
    expect(u.dims, t.name).toEqual(t.dims);
    expect(bytes(u), t.name).toEqual(bytes(t));
  }
}

function externalEntries(path: string): Record<string, Record<string, string>> {
  const proto = decodeModelProto(readFileSync(path));
  const out: Record<string, Record<string, string>> = {};
  for (const t of proto.graph!.initializer!)
    if (t.data_location === 1) out[t.name!] = Object.fromEntries(t.external_data!.map((e) => [e.key!, e.value!]));
  return out;
}

describe('saving and loading external data', () => {
  it("'all' writes <model>.onnx.data, 64-byte aligned, and reloads identical tensors", () => {
    const d = folder();
    const m = sampleModel();
    saveModel(m, join(d, 'm.onnx'), { externalData: 'all', threshold: 100 });
    expect(readdirSync(d).sort()).toEqual(['m.onnx', 'm.onnx.data']);
    const refs = externalEntries(join(d, 'm.onnx'));
    // big: 1280 bytes at 0; ids: 1040 bytes at the next multiple of 64; small (12 bytes) stays inline.
    expect(refs).toEqual({
      big: { location: 'm.onnx.data', offset: '0', length: '1280' },
      ids: { location: 'm.onnx.data', offset: '1280', length: '1040' },
    });
    const data = readFileSync(join(d, 'm.onnx.data'));
    expect(data.length).toBe(1280 + 1040);
    expect(new DataView(data.buffer, data.byteOffset).getFloat32(4 * 7, true)).toBe((7 - 160) * 0.25);
    expect(new DataView(data.buffer, data.byteOffset).getBigInt64(1280 + 8 * 129, true)).toBe(BigInt((129 - 65) * 3));
    const back = loadModel(join(d, 'm.onnx'));
    expectSameTensors(m, back);
    expect(back.graph.initializers.map((t) => t.storage)).toEqual(['external', 'external', 'raw']);
  });

  it('offsets after an odd-sized tensor are padded to 64 bytes', () => {
    const d = folder();
    const g = new Graph();
    g.initializers.push(makeTensor('a', DataType.UINT8, [100], ramp(100).map((x) => x + 50)));
    g.initializers.push(makeTensor('b', DataType.DOUBLE, [10], ramp(10, 0.5)));
    const m = model(g);
    saveModel(m, join(d, 'odd.onnx'), { externalData: 'all', threshold: 1 });
    expect(externalEntries(join(d, 'odd.onnx'))).toEqual({
      a: { location: 'odd.onnx.data', offset: '0', length: '100' },
      b: { location: 'odd.onnx.data', offset: '128', length: '80' },
    });
    expectSameTensors(m, loadModel(join(d, 'odd.onnx')));
  });

  it("'auto' keeps tensors that came from external data external, under the new model's name", () => {
    const d = folder();
    saveModel(sampleModel(), join(d, 'first.onnx'), { externalData: 'all', threshold: 100 });
    const loaded = loadModel(join(d, 'first.onnx'));
    saveModel(loaded, join(d, 'second.onnx'));
    expect(Object.keys(externalEntries(join(d, 'second.onnx')))).toEqual(['big', 'ids']);
    expect(externalEntries(join(d, 'second.onnx')).big.location).toBe('second.onnx.data');
    expectSameTensors(sampleModel(), loadModel(join(d, 'second.onnx')));
    // 'none' brings everything inline and writes no data file.
    saveModel(loaded, join(d, 'third.onnx'), { externalData: 'none' });
    expect(externalEntries(join(d, 'third.onnx'))).toEqual({});
    expect(existsSync(join(d, 'third.onnx.data'))).toBe(false);
    expectSameTensors(sampleModel(), loadModel(join(d, 'third.onnx')));
  });

  it("'auto' moves tensors out when the inline bytes exceed inlineLimit (the path models over 2 GB take)", () => {
    const d = folder();
    const m = sampleModel(); // 1280 + 1040 + 12 bytes of tensors
    saveModel(m, join(d, 'under.onnx'), { inlineLimit: 4096, threshold: 100 });
    expect(readdirSync(d)).toEqual(['under.onnx']);
    saveModel(m, join(d, 'over.onnx'), { inlineLimit: 2048, threshold: 100 });
    expect(Object.keys(externalEntries(join(d, 'over.onnx')))).toEqual(['big', 'ids']);
    expectSameTensors(m, loadModel(join(d, 'over.onnx')));
    // The default limit is 1.5 GiB: small models stay inline.
    saveModel(m, join(d, 'default.onnx'), { threshold: 100 });
    expect(existsSync(join(d, 'default.onnx.data'))).toBe(false);
  });

  it("'none' over inlineLimit, or 'auto' whose tensors are all under threshold, is refused and writes nothing", () => {
    const d = folder();
    const m = sampleModel();
    expect(() => saveModel(m, join(d, 'none.onnx'), { externalData: 'none', inlineLimit: 2048 })).toThrow(ModelFormatError);
    expect(() => saveModel(m, join(d, 'auto.onnx'), { inlineLimit: 1000, threshold: 4096 })).toThrow(/2332 bytes of tensors is over the 1000-byte inline limit/);
    expect(readdirSync(d)).toEqual([]);
  });

  it('an output location that leaves the folder is refused and nothing is written', () => {
    const d = folder();
    for (const location of ['../x.data', '/tmp/x.data', 'a/../../x.data'])
      expect(() => saveModel(sampleModel(), join(d, 'm.onnx'), { externalData: 'all', location }), location).toThrow(ExternalDataError);
    expect(() => saveModel(sampleModel(), join(d, 'm.onnx'), { externalData: 'all', location: 'm.onnx' })).toThrow(ExternalDataError);
    expect(readdirSync(d)).toEqual([]);
  });

  it('saving into a folder that does not exist: UsageError naming it, nothing written', () => {
    const d = folder();
    const target = join(d, 'missing', 'm.onnx');
    expect(() => saveModel(sampleModel(), target)).toThrow(UsageError);
    expect(() => saveModel(sampleModel(), target)).toThrow(`cannot write ${target}: folder ${join(d, 'missing')} does not exist; create it first`);
    // External data in a sub-folder that does not exist: the model file is not left behind either.
    expect(() => saveModel(sampleModel(), join(d, 'm.onnx'), { externalData: 'all', location: 'sub/m.data' })).toThrow(UsageError);
    expect(readdirSync(d)).toEqual([]);
  });

  it('a model with external data loaded from a buffer (no folder) gives one clear error', () => {
    const d = folder();
    saveModel(sampleModel(), join(d, 'm.onnx'), { externalData: 'all', threshold: 100 });
    let err: Error | undefined;
    try {
      loadModelFromBytes(readFileSync(join(d, 'm.onnx')), { source: 'buffer.onnx' });
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err!.message).toMatch(/^buffer\.onnx: initializer 'big': uses external data .*load it from its file$/);
    expect(err!.message).not.toContain('\n');
    // With a folder given, the same bytes load.
    expectSameTensors(sampleModel(), loadModelFromBytes(readFileSync(join(d, 'm.onnx')), { baseDir: d }));
  });
});

/** A model file whose one initializer 'w' (float32 [4], 16 bytes) lives at `location`. */
function writeExternalModel(dir: string, location: string, extra: { offset?: number; length?: number } = {}): string {
  const entries = [{ key: 'location', value: location }];
  if (extra.offset !== undefined) entries.push({ key: 'offset', value: String(extra.offset) });
  if (extra.length !== undefined) entries.push({ key: 'length', value: String(extra.length) });
  const w: TensorProto = { name: 'w', data_type: DataType.FLOAT, dims: [4], data_location: 1, external_data: entries };
  const bytes = encodePlain(ModelProtoType, { ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: { name: 'g', initializer: [w], output: [{ name: 'w' }] } });
  const path = join(dir, 'model.onnx');
  writeFileSync(path, bytes);
  return path;
}

const FOUR_FLOATS = new Uint8Array(Float32Array.of(1, -2, 3.5, 4).buffer);

function loadError(path: string): Error {
  try {
    loadModel(path);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`${path} loaded, but it should have been refused`);
}

describe('unsafe or inconsistent external data is refused on load', () => {
  it('a valid reference loads (the baseline the refusals differ from)', () => {
    const d = folder();
    writeFileSync(join(d, 'w.bin'), Uint8Array.of(...new Uint8Array(8), ...FOUR_FLOATS));
    const m = loadModel(writeExternalModel(d, 'w.bin', { offset: 8, length: 16 }));
    expect(Array.from(m.graph.initializers[0].data as Float32Array)).toEqual([1, -2, 3.5, 4]);
    expect(m.graph.initializers[0].external).toEqual({ location: 'w.bin', offset: 8, length: 16, other: [] });
  });

  const cases: [string, (d: string) => string, RegExp][] = [
    [
      'an absolute location (to a file that exists)',
      (d) => {
        mkdirSync(join(d, 'elsewhere'));
        writeFileSync(join(d, 'elsewhere', 'w.bin'), FOUR_FLOATS);
        return writeExternalModel(join(d, 'm'), join(d, 'elsewhere', 'w.bin'));
      },
      /is an absolute path/,
    ],
    [
      "'../x.data' (which exists)",
      (d) => {
        writeFileSync(join(d, 'x.data'), FOUR_FLOATS);
        return writeExternalModel(join(d, 'm'), '../x.data');
      },
      /leaves the model's folder with '\.\.'/,
    ],
    [
      "'a/../../x.data'",
      (d) => {
        writeFileSync(join(d, 'x.data'), FOUR_FLOATS);
        mkdirSync(join(d, 'm', 'a'));
        return writeExternalModel(join(d, 'm'), 'a/../../x.data');
      },
      /leaves the model's folder/,
    ],
    [
      'a symlink in the folder pointing outside it',
      (d) => {
        writeFileSync(join(d, 'secret.bin'), FOUR_FLOATS);
        symlinkSync(join(d, 'secret.bin'), join(d, 'm', 'w.bin'));
        return writeExternalModel(join(d, 'm'), 'w.bin');
      },
      /resolves through a symlink to .*secret\.bin, outside the model's folder/,
    ],
    [
      'a path through a symlinked sub-folder that points outside',
      (d) => {
        mkdirSync(join(d, 'outside'));
        writeFileSync(join(d, 'outside', 'w.bin'), FOUR_FLOATS);
        symlinkSync(join(d, 'outside'), join(d, 'm', 'sub'));
        return writeExternalModel(join(d, 'm'), 'sub/w.bin');
      },
      /outside the model's folder/,
    ],
    [
      'offset + length past the end of the file (a truncated data file)',
      (d) => {
        writeFileSync(join(d, 'm', 'w.bin'), FOUR_FLOATS.subarray(0, 12));
        return writeExternalModel(join(d, 'm'), 'w.bin', { offset: 0, length: 16 });
      },
      /needs bytes 0\.\.16 of 'w\.bin', but the file has 12; the data file is truncated/,
    ],
    [
      'an offset beyond the end of the file',
      (d) => {
        writeFileSync(join(d, 'm', 'w.bin'), FOUR_FLOATS);
        return writeExternalModel(join(d, 'm'), 'w.bin', { offset: 64 });
      },
      /needs bytes 64\.\.80 of 'w\.bin', but the file has 16/,
    ],
    ['a missing file', (d) => writeExternalModel(join(d, 'm'), 'nowhere.bin'), /file 'nowhere\.bin' not found next to the model/],
  ];

  for (const [what, make, message] of cases) {
    it(`${what}: ExternalDataError, one line naming the model and tensor`, () => {
      const d = folder();
      mkdirSync(join(d, 'm'));
      const path = make(d);
      const err = loadError(path);
      expect(err).toBeInstanceOf(ExternalDataError);
      expect(err.message).toMatch(message);
      expect(err.message.startsWith(`${path}: external data of tensor 'w'`)).toBe(true);
      expect(err.message).not.toContain('\n');
    });
  }

  it('a length that does not match the dims is refused before reading', () => {
    const d = folder();
    writeFileSync(join(d, 'w.bin'), new Uint8Array(1024));
    const err = loadError(writeExternalModel(d, 'w.bin', { length: 1024 }));
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(/external data length 1024 does not match 4 float32 \(16 bytes\)/);
  });

  it('a FIFO named as the data file is refused without blocking on it', () => {
    const d = folder();
    try {
      execFileSync('mkfifo', [join(d, 'w.bin')]);
    } catch {
      return; // no mkfifo on this system
    }
    // In a child process (the built CLI), so a regression fails on the timeout instead of hanging the suite.
    const r = runCli(['inspect', writeExternalModel(d, 'w.bin')], { timeout: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*external data of tensor 'w': 'w\.bin' is not a regular file\n$/);
  }, 30_000);

  it('a symlink that stays inside the folder is fine', () => {
    const d = folder();
    mkdirSync(join(d, 'data'));
    writeFileSync(join(d, 'data', 'w.bin'), FOUR_FLOATS);
    symlinkSync(join(d, 'data', 'w.bin'), join(d, 'link.bin'));
    expect(statSync(join(d, 'link.bin')).size).toBe(16);
    const m = loadModel(writeExternalModel(d, 'link.bin'));
    expect(Array.from(m.graph.initializers[0].data as Float32Array)).toEqual([1, -2, 3.5, 4]);
  });
});
