/**
 * Issue 10, item 6: what a SIGKILL leaves in a run's folder (temp files of the commit protocol,
 * a state file whose JSON was never written) is removed when the same run starts again, and
 * only that: matched exactly, never a file lion-onnx did not make. A run killed before its
 * first checkpoint leaves no folder behind once the next run starts. (The kill campaign in
 * test/stress/kill-resume.test.ts checks the same after real SIGKILLs.)
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-leftovers-');
const MLP = join(REPO, 'test/fixtures/torch/mlp');
const data = ['--data', `x=${join(MLP, 'x.npy')}`, '--data', `target=${join(MLP, 'target.npy')}`, '--batch-size', '8', '--lr', '1e-3'];

describe('leftovers of a crash', { timeout: 120_000 }, () => {
  it('resuming a run removes its stray temp files and state files without JSON; the user\u2019s files stay', () => {
    const art = join(root, 'art');
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', art]).code).toBe(0);
    expect(runCli(['train', art, ...data, '--steps', '4', '--checkpoint-every', '1']).code).toBe(0);
    const run = join(art, 'checkpoints', 'run-0001');
    const stray = [
      '.checkpoint-0000005.safetensors.tmp-999999-0',
      '.checkpoint-0000005.json.tmp-999999-1',
      'checkpoint-0000005.safetensors', // its JSON was never written
    ];
    const notOurs = ['notes.txt', '.checkpoint-0000005.json.tmp-x', 'checkpoint-0000005.safetensors.bak', '.checkpoint-0000005.json.tmp-1-2-3'];
    for (const f of [...stray, ...notOurs]) writeFileSync(join(run, f), 'x');
    const r = runCli(['train', art, ...data, '--steps', '6', '--checkpoint-every', '1', '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('resuming run-0001 from step 4 ');
    expect(readdirSync(run).sort()).toEqual(
      [...notOurs, ...['checkpoint-0000004', 'checkpoint-0000005', 'checkpoint-0000006'].flatMap((c) => [`${c}.json`, `${c}.safetensors`])].sort(),
    );
  });

  it('a run that died before its first checkpoint leaves no folder once the next run starts', () => {
    const art = join(root, 'art2');
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', art]).code).toBe(0);
    // What a SIGKILL before the first checkpoint leaves: an empty run folder, or one with a temp file.
    mkdirSync(join(art, 'checkpoints', 'run-0001'), { recursive: true });
    mkdirSync(join(art, 'checkpoints', 'run-0002'));
    writeFileSync(join(art, 'checkpoints', 'run-0002', '.checkpoint-0000001.safetensors.tmp-999999-0'), 'x');
    const r = runCli(['train', art, ...data, '--steps', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('starting run-0001');
    expect(readdirSync(join(art, 'checkpoints'))).toEqual(['run-0001']);
  });
});
