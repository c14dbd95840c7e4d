/**
 * Issue 10, item 7: what can be checked before work is checked before work, each with one line
 * and exit 2 — held-out data, output files that would be inputs or the directory's own files,
 * --epochs, --resume --steps below the checkpoint, --threads far beyond the machine, resuming a
 * directory built from another model, a manifest whose data inputs name no input, and
 * export's state files against the manifest.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { writeNpy } from '../../src/data/npy.js';
import { readSafetensors, writeSafetensors } from '../../src/artifacts/safetensors.js';
import { REPO, refusedLine, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-validate-');
const MLP = join(REPO, 'test/fixtures/torch/mlp');
const X = join(MLP, 'x.npy');
const T = join(MLP, 'target.npy');
const data = ['--data', `x=${X}`, '--data', `target=${T}`, '--batch-size', '8', '--lr', '1e-3'];
const art = join(root, 'art');

let n = 0;
function copy(): string {
  const d = join(root, `copy${n++}`);
  cpSync(art, d, { recursive: true });
  return d;
}

describe('validation before work', { timeout: 120_000 }, () => {
  it('setup: a trained directory', () => {
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', art]).code).toBe(0);
    expect(runCli(['train', art, ...data, '--steps', '6', '--checkpoint-every', '3']).code).toBe(0);
  });

  it('held-out data with 0 rows, or with arrays of different row counts, is refused before training', () => {
    const dir = join(root, 'eval');
    mkdirSync(dir);
    writeNpy(join(dir, 'x0.npy'), { name: 'x', dataType: DataType.FLOAT, dims: [0, 64], data: new Float32Array(0) });
    writeNpy(join(dir, 't0.npy'), { name: 't', dataType: DataType.INT64, dims: [0], data: new BigInt64Array(0) });
    writeNpy(join(dir, 't5.npy'), { name: 't', dataType: DataType.INT64, dims: [5], data: new BigInt64Array(5) });
    const fresh = copy();
    const before = readdirSync(join(fresh, 'checkpoints'));
    const log = join(dir, 'log.jsonl');
    expect(refusedLine(runCli(['train', fresh, ...data, '--steps', '3', '--log', log, '--eval-data', `x=${join(dir, 'x0.npy')}`, '--eval-data', `target=${join(dir, 't0.npy')}`]))).toMatch(
      /--eval-data has 0 rows/,
    );
    expect(refusedLine(runCli(['train', fresh, ...data, '--steps', '3', '--log', log, '--eval-data', `x=${X}`, '--eval-data', `target=${join(dir, 't5.npy')}`]))).toMatch(
      /--eval-data: the arrays have different numbers of rows/,
    );
    expect(readdirSync(join(fresh, 'checkpoints'))).toEqual(before);
    expect(existsSync(log)).toBe(false);
  });

  it("export -o onto the directory's own files, onto the checkpoint it reads, or -o X --safetensors X, is refused", () => {
    const dir = copy();
    const ckpt = join(dir, 'checkpoints', 'run-0001', 'checkpoint-0000006.json');
    const snapshot = () => readdirSync(dir).map((f) => [f, existsSync(join(dir, f)) && !f.includes('.') ? '' : readFileSync(join(dir, f), 'utf8').length]);
    const before = snapshot();
    expect(refusedLine(runCli(['export', dir, '-o', join(dir, 'step.onnx')]))).toMatch(/one of the artifacts directory's own files \(step\.onnx\)/);
    expect(refusedLine(runCli(['export', dir, '-o', join(dir, 'manifest.json')]))).toMatch(/own files \(manifest\.json\)/);
    expect(refusedLine(runCli(['export', dir, '-o', join(dir, 'inference.onnx')]))).toMatch(/own files \(inference\.onnx\)/);
    expect(refusedLine(runCli(['export', ckpt, '-o', ckpt]))).toMatch(/own files|the checkpoint it exports/);
    expect(refusedLine(runCli(['export', dir, '-o', join(dir, 'checkpoints', 'run-0001', 'x.onnx')]))).toMatch(/own files/);
    const same = join(root, 'same');
    expect(refusedLine(runCli(['export', dir, '-o', same, '--safetensors', same]))).toMatch(/--safetensors .* is the same file as -o/);
    expect(existsSync(same)).toBe(false);
    expect(snapshot()).toEqual(before);
  });

  it('plot -o onto one of the logs it plots is refused, the log untouched', () => {
    const log = join(root, 'p.jsonl');
    expect(runCli(['train', copy(), ...data, '--steps', '2', '--log', log]).code).toBe(0);
    const text = readFileSync(log, 'utf8');
    expect(refusedLine(runCli(['plot', log, '-o', log]))).toMatch(/-o .*p\.jsonl is one of the logs it plots/);
    expect(readFileSync(log, 'utf8')).toBe(text);
  });

  it('--epochs 0, -1 and abc are refused', () => {
    for (const e of ['0', '-1', 'abc']) expect(refusedLine(runCli(['train', art, ...data, '--epochs', e]))).toMatch(/--epochs must be a number > 0/);
  });

  it('--resume --steps below the checkpoint step is refused (it used to train "-4 steps")', () => {
    expect(refusedLine(runCli(['train', copy(), ...data, '--steps', '2', '--resume']))).toMatch(/is at step 6, past --steps 2 \(the total to reach, not steps to add\)/);
  });

  it('--threads far beyond the machine is refused, naming the machine, not the model', () => {
    expect(refusedLine(runCli(['train', art, ...data, '--steps', '2', '--threads', '1e9']))).toMatch(/--threads 1000000000 is far beyond this machine's \d+ cores; use at most \d+/);
  });

  it('train X.onnx --out DIR --resume where DIR was built from another model (or options) is refused', () => {
    const dir = join(root, 'from-other');
    expect(runCli(['train', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir, ...data, '--steps', '2']).code).toBe(0);
    // Same bytes, other options: another build.
    expect(refusedLine(runCli(['train', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--optimizer', 'adamw', '--out', dir, ...data, '--steps', '4', '--resume']))).toMatch(
      /--resume: .*from-other was built from another model or with other options/,
    );
    expect(refusedLine(runCli(['train', join(REPO, 'test/fixtures/torch/cnn/model.onnx'), '--loss', 'cross-entropy', '--out', dir, ...data, '--steps', '4', '--resume']))).toMatch(
      /built from another model/,
    );
  });

  it('a manifest whose dataInputs name no input is refused in one line (not "internal error")', () => {
    const dir = copy();
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    m.dataInputs = ['x', 'nonexistent'];
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    for (const args of [['train', dir, ...data, '--steps', '2'], ['export', dir, '-o', join(root, 'e.onnx')]])
      expect(refusedLine(runCli(args))).toMatch(/invalid manifest \(dataInputs do not name exactly the inputs whose role is data\)/);
  });

  it("export checks the checkpoint's and the initial state's shapes and dtypes against the manifest", () => {
    const dir = copy();
    const st = join(dir, 'checkpoints', 'run-0001', 'checkpoint-0000006.safetensors');
    const t = readSafetensors(st).tensors;
    const w = t.get('fc1.weight')!;
    t.set('fc1.weight', { ...w, dims: [w.dims[1], w.dims[0]] });
    writeSafetensors(st, [...t.values()]);
    expect(refusedLine(runCli(['export', dir, '-o', join(root, 'bad-shape.onnx')]))).toMatch(/checkpoint-0000006\.json: 'fc1\.weight' has shape \[64, 32\], the model needs \[32, 64\]/);
    const fresh = join(root, 'fresh');
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', fresh]).code).toBe(0);
    const s0 = readSafetensors(join(fresh, 'state.safetensors')).tensors;
    const b = s0.get('fc1.bias')!;
    s0.set('fc1.bias', { ...b, dataType: DataType.DOUBLE, data: Float64Array.from(b.data as Float32Array) });
    writeSafetensors(join(fresh, 'state.safetensors'), [...s0.values()]);
    expect(refusedLine(runCli(['export', fresh, '-o', join(root, 'bad-dtype.onnx')]))).toMatch(/state\.safetensors: 'fc1\.bias' must be float32/);
    expect(existsSync(join(root, 'bad-shape.onnx')) || existsSync(join(root, 'bad-dtype.onnx'))).toBe(false);
  });
});
