/**
 * Issue 10, item 2: runs have an identity. Two fresh `train DIR` runs each keep their own
 * checkpoints (pruning works within a run: exactly the newest 3), `export DIR` and `--resume`
 * take the newest run's newest checkpoint and say which, `--run` picks another, and a second
 * `train` on a directory being trained stops with exit 2 (train.lock; a stale lock is taken
 * over). Before this, a second run's pruning deleted the first run's newest checkpoint or its
 * own, and export/--resume picked by step number across runs.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/artifacts/checkpoint.js';
import { readModelMetadata } from '../../src/onnx/model-metadata.js';
import { CLI, REPO, refusedLine, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-runs-');
const MLP = join(REPO, 'test/fixtures/torch/mlp');
const data = ['--data', `x=${join(MLP, 'x.npy')}`, '--data', `target=${join(MLP, 'target.npy')}`, '--batch-size', '8', '--lr', '1e-3'];
const jsons = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('training runs', { timeout: 120_000 }, () => {
  const art = join(root, 'art');

  it('two fresh runs keep their own checkpoints; pruning keeps exactly the newest 3 of each run', () => {
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', art]).code).toBe(0);
    const a = runCli(['train', art, ...data, '--steps', '10', '--checkpoint-every', '2']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('(run-0001)');
    const b = runCli(['train', art, ...data, '--steps', '6', '--checkpoint-every', '1', '--seed', '3']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/checkpoint: .*run-0002.*checkpoint-0000006\.json \(run-0002\)/);
    // Run 1 saved at 2, 4, 6, 8, 10: the newest three stay. Run 2 saved at 1..6: its own newest three.
    expect(jsons(join(art, 'checkpoints', 'run-0001'))).toEqual(['checkpoint-0000006.json', 'checkpoint-0000008.json', 'checkpoint-0000010.json']);
    expect(jsons(join(art, 'checkpoints', 'run-0002'))).toEqual(['checkpoint-0000004.json', 'checkpoint-0000005.json', 'checkpoint-0000006.json']);
    expect(readdirSync(join(art, 'checkpoints', 'run-0002')).sort()).toEqual(
      ['checkpoint-0000004', 'checkpoint-0000005', 'checkpoint-0000006'].flatMap((c) => [`${c}.json`, `${c}.safetensors`]),
    );
    expect(readCheckpoint(join(art, 'checkpoints', 'run-0002', 'checkpoint-0000006.json')).info).toMatchObject({ run: 'run-0002', step: 6 });
  });

  it('export DIR takes the newest run (not the highest step) and says which; --run picks another', () => {
    const out = join(root, 'newest.onnx');
    const e = runCli(['export', art, '-o', out]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/weights from run-0002, step 6: .*run-0002.*checkpoint-0000006\.json/);
    expect(JSON.parse(readModelMetadata(out)!.find((m) => m.key === 'lion-onnx.export')!.value)).toMatchObject({ run: 'run-0002', step: 6 });
    const older = runCli(['export', art, '-o', join(root, 'older.onnx'), '--run', 'run-0001']);
    expect(older.code, older.stderr).toBe(0);
    expect(older.stdout).toMatch(/weights from run-0001, step 10/);
    expect(refusedLine(runCli(['export', art, '-o', join(root, 'x.onnx'), '--run', 'run-0009']))).toMatch(/no run run-0009 .*run-0001, run-0002/);
  });

  it('--resume continues the newest run and says so; --run resumes another; neither touches the other run', () => {
    const r1before = readdirSync(join(art, 'checkpoints', 'run-0001')).sort();
    const r = runCli(['train', art, ...data, '--steps', '8', '--seed', '3', '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming run-0002 from step 6 \(.*run-0002.*checkpoint-0000006\.json\)/);
    expect(jsons(join(art, 'checkpoints', 'run-0002')).at(-1)).toBe('checkpoint-0000008.json');
    expect(readdirSync(join(art, 'checkpoints', 'run-0001')).sort()).toEqual(r1before);
    const r1 = runCli(['train', art, ...data, '--steps', '12', '--checkpoint-every', '2', '--resume', '--run', 'run-0001']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stderr).toMatch(/resuming run-0001 from step 10/);
    expect(jsons(join(art, 'checkpoints', 'run-0001'))).toEqual(['checkpoint-0000008.json', 'checkpoint-0000010.json', 'checkpoint-0000012.json']);
    expect(jsons(join(art, 'checkpoints', 'run-0002')).at(-1)).toBe('checkpoint-0000008.json');
  });

  it('a second train on a directory being trained exits 2 naming the holder; a stale lock is taken over', async () => {
    const child = spawn(process.execPath, [CLI, 'train', art, ...data, '--steps', '100000', '--threads', '1'], { cwd: REPO });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (stderr.includes('training ') || stderr.includes('step ')) {
          clearInterval(t);
          resolve();
        }
      }, 50);
    });
    const lock = JSON.parse(readFileSync(join(art, 'train.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: child.pid, host: hostname() });
    const second = runCli(['train', art, ...data, '--steps', '2']);
    expect(refusedLine(second)).toMatch(new RegExp(`is being trained by process ${child.pid}`));
    // build would replace files under the running trainer: refused too.
    expect(refusedLine(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', art]))).toMatch(/is being trained by process/);
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('exit', (c) => r(c)))).toBe(143);
    expect(existsSync(join(art, 'train.lock'))).toBe(false);

    // A lock whose process is gone (SIGKILL): the next train takes it over.
    writeFileSync(join(art, 'train.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
    const after = runCli(['train', art, ...data, '--steps', '2']);
    expect(after.code, after.stderr).toBe(0);
    expect(existsSync(join(art, 'train.lock'))).toBe(false);
  });

  it("a fresh run takes over the log of a run that saved no checkpoint, and refuses one whose run has checkpoints", () => {
    const d = join(root, 'logs');
    expect(runCli(['build', join(MLP, 'model.onnx'), '--loss', 'cross-entropy', '--out', d]).code).toBe(0);
    const log = join(root, 'logs.jsonl');
    // As a run killed before its first checkpoint leaves it: its folder (empty) and its log lines.
    const first = runCli(['train', d, ...data, '--steps', '2', '--log', log]);
    expect(first.code, first.stderr).toBe(0);
    expect(readdirSync(join(d, 'checkpoints', 'run-0001'))).toHaveLength(2);
    for (const f of readdirSync(join(d, 'checkpoints', 'run-0001'))) rmSync(join(d, 'checkpoints', 'run-0001', f));
    const again = runCli(['train', d, ...data, '--steps', '3', '--log', log]);
    expect(again.code, again.stderr).toBe(0);
    // The abandoned run's folder is removed (it held nothing), so the new run is run-0001 again.
    expect(readFileSync(log, 'utf8').trim().split('\n').map((l) => [JSON.parse(l).run, JSON.parse(l).step])).toEqual([['run-0001', 1], ['run-0001', 2], ['run-0001', 3]]);
    // Now run-0001 has a checkpoint: a third fresh run may not take its log.
    const before = readFileSync(log, 'utf8');
    expect(refusedLine(runCli(['train', d, ...data, '--steps', '1', '--log', log]))).toMatch(/--log .*logs\.jsonl holds the log of an earlier run \(run-0001\).*--resume.*--overwrite/);
    expect(readFileSync(log, 'utf8')).toBe(before);
  });
});
