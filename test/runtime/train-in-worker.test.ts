/**
 * Training runs in a worker thread, so the calling thread stays responsive: a timer keeps
 * firing while onnxruntime is busy with long runs (one run of many steps blocks the thread it
 * runs on for hundreds of milliseconds), and Ctrl-C in the CLI saves a checkpoint.
 * Uses the built dist/ (the worker is loaded as a .js file), as the CLI does.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();

describe('training in a worker thread', () => {
  it('keeps the main thread responsive: a 20 ms timer never waits long while runs take long', async () => {
    const { trainInWorker } = await import(join(REPO, 'dist/api/train-in-worker.js'));
    const { buildFromFile } = await import(join(REPO, 'dist/api/build.js'));
    const art = join(dir, 'mnist');
    buildFromFile(join(REPO, 'models/mnist_mlp.onnx'), art, { loss: 'cross-entropy' });
    let last = performance.now();
    let worstGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
      ticks++;
    }, 20);
    let steps = 0;
    const t0 = performance.now();
    // 32 steps of batch 256 per run: each run keeps onnxruntime busy for a long stretch.
    const job = trainInWorker(art, { dataset: 'mnist', batchSize: 256, steps: 64, stepsPerRun: 32, lr: 1e-3 }, { onStep: () => steps++ });
    const result = await job.result;
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(result.steps).toBe(64);
    expect(steps).toBe(64);
    expect(elapsed).toBeGreaterThan(400);
    expect(ticks).toBeGreaterThan(elapsed / 20 / 3);
    expect(worstGap).toBeLessThan(250);
  }, 60_000);

  it('Ctrl-C (SIGINT) saves a checkpoint and exits 130; --resume continues from it', async () => {
    const art = join(dir, 'sigint');
    expect(runCli(['build', join(REPO, 'models/mnist_mlp.onnx'), '--loss', 'cross-entropy', '--out', art]).code).toBe(0);
    const child = spawn(process.execPath, [CLI, 'train', art, '--dataset', 'mnist', '--steps', '100000', '--batch-size', '64', '--lr', '1e-3'], { cwd: REPO });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Interrupt once training is under way (MNIST loading comes first).
    await new Promise<void>((r) => {
      const check = setInterval(() => {
        if (stderr.includes('training ')) {
          clearInterval(check);
          setTimeout(r, 1500);
        }
      }, 50);
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, stderr).toBe(130);
    const ckpts = readdirSync(join(art, 'checkpoints', 'run-0001')).filter((f) => f.endsWith('.json'));
    expect(ckpts.length).toBe(1);
    const step = Number(/checkpoint-(\d+)/.exec(ckpts[0])![1]);
    expect(step).toBeGreaterThan(0);
    const resumed = runCli(['train', art, '--dataset', 'mnist', '--steps', String(step + 16), '--batch-size', '64', '--lr', '1e-3', '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`trained ${step + 16} steps`));
    expect(existsSync(join(art, 'checkpoints', 'run-0001', `checkpoint-${String(step + 16).padStart(7, '0')}.json`))).toBe(true);
  }, 60_000);
});
