/**
 * `lion-onnx train` refuses bad data before it writes anything: exit code 2, one stderr line
 * starting "error: ", no stack trace, no log file, no checkpoints folder, the artifacts
 * directory untouched.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { buildFromFile } from '../../src/api/build.js';
import { cudaProviderInstalled } from '../../src/runtime/execution-provider.js';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const FIX = join(REPO, 'test/fixtures/torch/mlp');
const root = tempDir('lion-onnx-bad-data-');
const art = join(root, 'art');
const npy = join(root, 'npy');
mkdirSync(npy);
buildFromFile(join(FIX, 'model.onnx'), art, { loss: 'cross-entropy' });

const x = readNpy(join(FIX, 'x.npy'));
const target = readNpy(join(FIX, 'target.npy'));
const X = join(FIX, 'x.npy');
const T = join(FIX, 'target.npy');
writeNpy(join(npy, 'x64.npy'), { name: 'x', dataType: DataType.DOUBLE, dims: x.dims, data: Float64Array.from(x.data as Float32Array) });
writeNpy(join(npy, 'x63.npy'), { name: 'x', dataType: DataType.FLOAT, dims: [32, 63], data: (x.data as Float32Array).slice(0, 32 * 63) });
writeNpy(join(npy, 'x4.npy'), { name: 'x', dataType: DataType.FLOAT, dims: [4, 64], data: (x.data as Float32Array).slice(0, 4 * 64) });
writeNpy(join(npy, 't4.npy'), { ...target, dims: [4], data: (target.data as BigInt64Array).slice(0, 4) });
const t10 = (target.data as BigInt64Array).slice();
t10[5] = 10n;
writeNpy(join(npy, 't10.npy'), { ...target, data: t10 });
const tNeg = (target.data as BigInt64Array).slice();
tNeg[3] = -1n;
writeNpy(join(npy, 'tneg.npy'), { ...target, data: tNeg });

/** Every file under `dir` with its size and mtime, to see that nothing changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      out.push(`${relative(dir, p)} ${s.size} ${s.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

let n = 0;
/** Runs `train` in a fresh empty folder and checks the refusal contract; returns the error line. */
function refuse(args: string[]): string {
  const cwd = join(root, `case${n++}`);
  mkdirSync(cwd);
  const before = snapshot(art);
  const log = join(cwd, 'run.jsonl');
  const r = runCli(['train', ...args, '--batch-size', '8', '--steps', '3', '--log', log]);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(r.code, r.stderr).toBe(2);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).toBe('');
  expect(existsSync(log)).toBe(false);
  expect(existsSync(join(art, 'checkpoints'))).toBe(false);
  expect(snapshot(art)).toEqual(before);
  expect(readdirSync(cwd)).toEqual([]);
  return lines[0];
}

describe('lion-onnx train refuses bad data before writing anything', { timeout: 60_000 }, () => {
  it('a missing data file', () => {
    expect(refuse([art, '--data', `x=${join(npy, 'nope.npy')}`, '--data', `target=${T}`])).toMatch(/nope\.npy.*not found/);
  });

  it('a float64 array for a float32 input', () => {
    expect(refuse([art, '--data', `x=${join(npy, 'x64.npy')}`, '--data', `target=${T}`])).toMatch(/x64\.npy.*float64.*float32/);
  });

  it('a wrong trailing shape (63 columns for 64)', () => {
    expect(refuse([art, '--data', `x=${join(npy, 'x63.npy')}`, '--data', `target=${T}`])).toMatch(/x63\.npy.*\(32, 63\).*64/);
  });

  it('fewer rows than one batch', () => {
    expect(refuse([art, '--data', `x=${join(npy, 'x4.npy')}`, '--data', `target=${join(npy, 't4.npy')}`])).toMatch(/4 rows, fewer than one batch of 8/);
  });

  it('class label 10 for a 10-class model', () => {
    expect(refuse([art, '--data', `x=${X}`, '--data', `target=${join(npy, 't10.npy')}`])).toMatch(/t10\.npy.*label 10 at row 5.*\[0, 9\]/);
  });

  it('class label -1', () => {
    expect(refuse([art, '--data', `x=${X}`, '--data', `target=${join(npy, 'tneg.npy')}`])).toMatch(/tneg\.npy.*label -1 at row 3/);
  });

  it('a --data name that is not a graph input', () => {
    expect(refuse([art, '--data', `x=${X}`, '--data', `target=${T}`, '--data', `y=${X}`])).toMatch(/'y' is not a data input.*x, target/);
  });

  it('a graph input with no --data', () => {
    expect(refuse([art, '--data', `x=${X}`])).toMatch(/needs data input 'target'/);
  });

  it.skipIf(cudaProviderInstalled())('--ep cuda without the CUDA provider names what to install', () => {
    expect(refuse([art, '--data', `x=${X}`, '--data', `target=${T}`, '--ep', 'cuda'])).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js');
  });

  it('an .onnx target built on the fly is removed again when its data is refused', () => {
    const out = join(root, 'built', 'mlp');
    expect(refuse([join(FIX, 'model.onnx'), '--loss', 'cross-entropy', '--out', out, '--data', `x=${join(npy, 'x63.npy')}`, '--data', `target=${T}`])).toMatch(/x63\.npy/);
    expect(existsSync(join(root, 'built'))).toBe(false);
  });

  it('the same command with good data trains (the baseline the refusals differ from)', () => {
    const cwd = join(root, 'good');
    mkdirSync(cwd);
    const r = runCli(['train', art, '--data', `x=${X}`, '--data', `target=${T}`, '--batch-size', '8', '--steps', '3', '--log', join(cwd, 'run.jsonl'), '--checkpoint-dir', join(cwd, 'ck')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(cwd).sort()).toEqual(['ck', 'run.jsonl']);
  });
});
