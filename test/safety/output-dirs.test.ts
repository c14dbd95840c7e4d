/**
 * Issue 10, item 1: `build`/`rewrite`/`train MODEL.onnx --out DIR` write only into a new or
 * empty folder or into a lion-onnx artifacts directory (manifest.json with the format marker),
 * and even then touch only lion-onnx's own files. Before this, any folder holding a file named
 * manifest.json was replaced whole (a web project's README and src/ were gone, exit 0).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveModel } from '../../src/ir/model-io.js';
import { REPO, refusedLine, runCli } from '../helpers/cli.js';
import { gradientsAsInputs } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-outdirs-');
const MLP = join(REPO, 'test/fixtures/torch/mlp');
const data = ['--data', `x=${join(MLP, 'x.npy')}`, '--data', `target=${join(MLP, 'target.npy')}`, '--batch-size', '8', '--lr', '1e-3'];

/** A folder with everything in it, as text, for before/after comparisons. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p, `${rel}${f.name}/`);
      else out[`${rel}${f.name}`] = readFileSync(p).toString('base64');
    }
  };
  walk(dir, '');
  return out;
}

function webProject(dir: string): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'my-pwa', short_name: 'pwa', start_url: '/' }));
  writeFileSync(join(dir, 'README.txt'), 'my web project\n');
  writeFileSync(join(dir, 'src', 'index.js'), 'console.log(1)\n');
}

describe('output directories: only lion-onnx artifacts directories are replaced', { timeout: 120_000 }, () => {
  it('a web project with its own manifest.json is refused, untouched (build, rewrite, train)', () => {
    const dir = join(root, 'web');
    webProject(dir);
    const before = tree(dir);
    const training = join(root, 'training.onnx');
    saveModel(gradientsAsInputs({ w: { dims: [2, 3], values: [1, 2, 3, 4, 5, 6] } }), training);
    for (const args of [
      ['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir],
      ['rewrite', training, '--out', dir],
      ['train', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir, ...data, '--steps', '2'],
    ]) {
      const line = refusedLine(runCli(args));
      expect(line).toMatch(/non-empty folder that is not a lion-onnx artifacts directory/);
      expect(tree(dir)).toEqual(before);
    }
  });

  it('--out . in a non-empty folder is refused, and the folder keeps everything', () => {
    const cwd = join(root, 'cwd');
    webProject(cwd);
    const before = tree(cwd);
    refusedLine(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', '.'], { cwd }));
    expect(tree(cwd)).toEqual(before);
  });

  it('rebuilding an artifacts directory replaces only lion-onnx files: the user\u2019s notes stay, files of the old build go', () => {
    const dir = join(root, 'rebuild');
    const training = join(root, 'training2.onnx');
    saveModel(gradientsAsInputs({ w: { dims: [2, 3], values: [1, 2, 3, 4, 5, 6] } }), training);
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir]).code).toBe(0);
    writeFileSync(join(dir, 'notes.txt'), 'my notes\n');
    mkdirSync(join(dir, 'plots'));
    writeFileSync(join(dir, 'plots', 'a.svg'), '<svg/>');
    // rewrite makes no eval.onnx: the build's eval.onnx is lion-onnx's and goes.
    const r = runCli(['rewrite', training, '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['apply.onnx', 'grad.onnx', 'inference.onnx', 'loop.onnx', 'manifest.json', 'notes.txt', 'plots', 'state.safetensors', 'step.onnx']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('my notes\n');
    expect(readFileSync(join(dir, 'plots', 'a.svg'), 'utf8')).toBe('<svg/>');
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).createdBy).toMatch(/rewrite$/);
  });

  it('a directory holding runs of another build is replaced only with --overwrite; the same build keeps them', () => {
    const dir = join(root, 'runs');
    const build = (extra: string[] = []) => runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir, ...extra]);
    expect(build().code).toBe(0);
    expect(runCli(['train', dir, ...data, '--steps', '2']).code).toBe(0);
    const ckpt = join(dir, 'checkpoints', 'run-0001', 'checkpoint-0000002.json');
    expect(existsSync(ckpt)).toBe(true);
    // The same model and options: the same build id, so the run still fits and stays.
    expect(build().code).toBe(0);
    expect(existsSync(ckpt)).toBe(true);
    // Another build (AdamW): refused while the run is there.
    const line = refusedLine(build(['--optimizer', 'adamw']));
    expect(line).toMatch(/holds 1 training run \(run-0001\) of a different build; .*--overwrite/);
    expect(existsSync(ckpt)).toBe(true);
    writeFileSync(join(dir, 'checkpoints', 'keep-me.txt'), 'mine');
    const o = build(['--optimizer', 'adamw', '--overwrite']);
    expect(o.code, o.stderr).toBe(0);
    expect(existsSync(join(dir, 'checkpoints', 'run-0001'))).toBe(false);
    // Only lion-onnx's files went: the user's file in checkpoints/ is still there.
    expect(readFileSync(join(dir, 'checkpoints', 'keep-me.txt'), 'utf8')).toBe('mine');
  });

  it('train MODEL.onnx twice starts a second run beside the first instead of wiping it', () => {
    const dir = join(root, 'twice');
    const args = ['train', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir, ...data, '--steps', '3'];
    const a = runCli(args);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain(`built ${dir}`);
    const b = runCli(args);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain(`using ${dir} (built earlier`);
    expect(b.stderr).toContain('starting run-0002');
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['run-0001', 'run-0002']);
    expect(readdirSync(join(dir, 'checkpoints', 'run-0001'))).toContain('checkpoint-0000003.json');
  });

  it('--out onto the folder of the model being built is refused when it would replace that model', () => {
    const dir = join(root, 'self');
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir]).code).toBe(0);
    const before = tree(dir);
    const line = refusedLine(runCli(['build', join(dir, 'inference.onnx'), '--loss', 'mse', '--out', dir]));
    expect(line).toMatch(/would replace .*inference\.onnx, the model this build reads/);
    expect(tree(dir)).toEqual(before);
  });
});
