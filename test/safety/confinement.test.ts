/**
 * Issue 10, item 3: everything read or written through an artifacts directory stays inside it.
 * A symlinked checkpoints/ (pruning deleted files wherever it pointed), symlinked step.onnx,
 * state.safetensors or manifest.json, and a checkpoint whose `artifacts` names another build's
 * directory (export wrote that model with this run's weights) all stop with exit 2. An error
 * never quotes a file that is not what it claims, and FIFOs are refused at once (they hung).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, refusedLine, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-confine-');
const MLP = join(REPO, 'test/fixtures/torch/mlp');
const data = ['--data', `x=${join(MLP, 'x.npy')}`, '--data', `target=${join(MLP, 'target.npy')}`, '--batch-size', '8', '--lr', '1e-3'];
const FAST = { timeout: 20_000 };

let n = 0;
/** A fresh trained artifacts directory (one run with checkpoints at 1..4: 2, 3, 4 kept). */
function trained(): string {
  const dir = join(root, `art${n++}`);
  if (!existsSync(join(root, 'template'))) {
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', join(root, 'template')]).code).toBe(0);
    expect(runCli(['train', join(root, 'template'), ...data, '--steps', '4', '--checkpoint-every', '1']).code).toBe(0);
  }
  cpSync(join(root, 'template'), dir, { recursive: true });
  return dir;
}

describe('confinement to the artifacts directory', { timeout: 120_000 }, () => {
  it('a symlinked checkpoints/ is refused before training; the files it points at stay', () => {
    const dir = trained();
    const elsewhere = join(root, 'precious');
    mkdirSync(elsewhere);
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(elsewhere, `checkpoint-000000${i}.json`), 'mine');
      writeFileSync(join(elsewhere, `checkpoint-000000${i}.safetensors`), 'mine');
    }
    rmSync(join(dir, 'checkpoints'), { recursive: true });
    symlinkSync(elsewhere, join(dir, 'checkpoints'));
    expect(refusedLine(runCli(['train', dir, ...data, '--steps', '2', '--checkpoint-every', '1']))).toMatch(/checkpoint folder .*checkpoints is a symlink/);
    expect(refusedLine(runCli(['export', dir, '-o', join(root, 'x.onnx')]))).toMatch(/is a symlink/);
    expect(readdirSync(elsewhere)).toHaveLength(10);
    // A symlinked run folder inside a real checkpoints/ is refused too.
    const dir2 = trained();
    const run = join(dir2, 'checkpoints', 'run-0001');
    renameSync(run, join(root, `moved-run-${n}`));
    symlinkSync(join(root, `moved-run-${n}`), run);
    expect(refusedLine(runCli(['train', dir2, ...data, '--steps', '6', '--resume']))).toMatch(/run-0001 is a symlink/);
  });

  for (const file of ['step.onnx', 'state.safetensors', 'manifest.json', 'loop.onnx'])
    it(`a symlinked ${file} pointing outside is refused`, () => {
      const dir = trained();
      const outside = join(root, `outside-${n}-${file}`);
      renameSync(join(dir, file), outside);
      symlinkSync(outside, join(dir, file));
      expect(refusedLine(runCli(['train', dir, ...data, '--steps', '2']))).toMatch(new RegExp(`${file.replace('.', '\\.')} is a symlink`));
    });

  it('a manifest.json linked to a system file is refused without quoting it', () => {
    const dir = trained();
    rmSync(join(dir, 'manifest.json'));
    symlinkSync('/etc/passwd', join(dir, 'manifest.json'));
    for (const args of [['train', dir, ...data, '--steps', '2'], ['export', dir, '-o', join(root, 'p.onnx')]]) {
      const line = refusedLine(runCli(args));
      expect(line).not.toMatch(/root|bin|nologin/);
    }
    // Not a link but not JSON either: still not quoted.
    const dir2 = trained();
    writeFileSync(join(dir2, 'manifest.json'), readFileSync('/etc/passwd'));
    const line = refusedLine(runCli(['train', dir2, ...data, '--steps', '2']));
    expect(line).toMatch(/not valid JSON/);
    expect(line).not.toMatch(/root|nologin/);
  });

  it("a checkpoint whose `artifacts` names another build's directory is not exported through it", () => {
    const dir = trained();
    const other = join(root, 'other-build');
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--optimizer', 'adamw', '--out', other]).code).toBe(0);
    const ckpt = join(dir, 'checkpoints', 'run-0001', 'checkpoint-0000004.json');
    const info = JSON.parse(readFileSync(ckpt, 'utf8'));
    info.artifacts = join('..', '..', '..', 'other-build');
    writeFileSync(ckpt, JSON.stringify(info));
    const out = join(root, 'wrong.onnx');
    expect(refusedLine(runCli(['export', ckpt, '-o', out]))).toMatch(/belongs to another build .* so its weights would go into another model/);
    expect(existsSync(out)).toBe(false);
    // And resuming it in the other directory: refused the same way.
    cpSync(join(dir, 'checkpoints'), join(other, 'checkpoints'), { recursive: true });
    expect(refusedLine(runCli(['train', other, ...data, '--steps', '6', '--resume']))).toMatch(/belongs to another build/);
  });

  it('FIFOs as --data, state.safetensors or step.onnx are refused at once, not read (which blocks)', FAST, () => {
    const dir = trained();
    const fifo = join(root, 'data.fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    expect(refusedLine(runCli(['train', dir, '--data', `x=${fifo}`, '--data', `target=${join(MLP, 'target.npy')}`, '--steps', '2'], { timeout: 15_000 }))).toMatch(/data\.fifo is a FIFO/);
    for (const file of ['state.safetensors', 'step.onnx']) {
      const d = trained();
      rmSync(join(d, file));
      execFileSync('mkfifo', [join(d, file)]);
      expect(refusedLine(runCli(['train', d, ...data, '--steps', '2'], { timeout: 15_000 }))).toMatch(new RegExp(`${file.replace('.', '\\.')} is a FIFO|not a regular file`));
    }
    expect(refusedLine(runCli(['build', fifo, '--loss', 'mse', '--out', join(root, 'never')], { timeout: 15_000 }))).toMatch(/FIFO/);
    expect(performance.now() - t0).toBeLessThan(15_000);
  });
});
