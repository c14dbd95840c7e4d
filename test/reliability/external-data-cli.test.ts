/**
 * Unsafe external data through the CLI: a location that is absolute, one that leaves the folder
 * with `..`, and a symlink inside the folder pointing outside it. test/onnx/external-data.test.ts
 * covers them through the API (and `..` through rewrite); here inspect, build and train on the
 * model file each exit 2 with one `error:` line naming the tensor, and write nothing.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { ModelProtoType, encodePlain } from '../../src/onnx/schema.js';
import { SEED_DIR } from '../helpers/fuzz-seeds.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-extcli-');
let n = 0;

/** x [batch, 4] -> MatMul(W) -> y, W (float32 [4, 2]) stored at `location`. */
function modelAt(location: string): { dir: string; model: string } {
  const dir = join(root, `case${n++}`);
  mkdirSync(join(dir, 'model'), { recursive: true });
  const vi = (name: string, dims: (number | string)[]) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } } });
  const W = { name: 'W', data_type: DataType.FLOAT, dims: [4, 2], data_location: 1, external_data: [{ key: 'location', value: location }] };
  const bytes = encodePlain(ModelProtoType, {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: [{ op_type: 'MatMul', input: ['x', 'W'], output: ['y'], name: 'mm' }], initializer: [W], input: [vi('x', ['batch', 4])], output: [vi('y', ['batch', 2])] },
  });
  const model = join(dir, 'model', 'm.onnx');
  writeFileSync(model, bytes);
  return { dir, model };
}

const SECRET = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer);

const cases: [string, () => { dir: string; model: string }, RegExp][] = [
  [
    'an absolute location',
    () => {
      const c = modelAt(join(root, 'secret-abs.bin'));
      writeFileSync(join(root, 'secret-abs.bin'), SECRET);
      return c;
    },
    /external data of tensor 'W': location '.*secret-abs\.bin' is an absolute path/,
  ],
  [
    "a location leaving the folder with '..'",
    () => {
      const c = modelAt('../secret.bin');
      writeFileSync(join(c.dir, 'secret.bin'), SECRET);
      return c;
    },
    /external data of tensor 'W': location '\.\.\/secret\.bin' leaves the model's folder with '\.\.'/,
  ],
  [
    'a symlink in the folder pointing outside it',
    () => {
      const c = modelAt('w.bin');
      writeFileSync(join(c.dir, 'secret.bin'), SECRET);
      symlinkSync(join(c.dir, 'secret.bin'), join(c.dir, 'model', 'w.bin'));
      return c;
    },
    /external data of tensor 'W': 'w\.bin' resolves through a symlink to .*secret\.bin, outside the model's folder/,
  ],
];

describe('unsafe external data through the CLI', () => {
  it('the same model with its data beside it inspects and builds (the baseline)', () => {
    const c = modelAt('w.bin');
    writeFileSync(join(c.dir, 'model', 'w.bin'), SECRET);
    expect(runCli(['inspect', c.model]).code).toBe(0);
    const r = runCli(['build', c.model, '--loss', 'mse', '--out', join(c.dir, 'out')]);
    expect(r.code, r.stderr).toBe(0);
  });

  for (const [what, make, message] of cases)
    it(`${what}: inspect, build and train exit 2 with one line and write nothing`, { timeout: 60_000 }, () => {
      const { dir, model } = make();
      const before = readdirSync(dir).sort();
      const data = ['--data', `x=${join(SEED_DIR, 'x4.npy')}`, '--data', `target=${join(SEED_DIR, 'y2.npy')}`];
      for (const args of [
        ['inspect', model],
        ['build', model, '--loss', 'mse', '--out', join(dir, 'out')],
        ['train', model, '--loss', 'mse', '--out', join(dir, 'run'), ...data, '--steps', '1', '--batch-size', '4'],
      ]) {
        const r = runCli(args, { cwd: dir });
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
        expect(r.stderr, args[0]).toMatch(/^error: [^\n]*\n$/);
        expect(r.stderr, args[0]).toMatch(message);
        expect(r.stdout, args[0]).toBe('');
      }
      expect(readdirSync(dir).sort()).toEqual(before);
      expect(existsSync(join(dir, 'runs'))).toBe(false);
    });
});
