/**
 * Signal trials (issue 10, item 4), shared by the quick tests and the stress campaign:
 *
 * - during `train`: SIGTERM, SIGHUP, or Ctrl-C twice in quick succession (the second while the
 *   checkpoint is being written), at a seeded moment. The process must exit with 143 / 129 /
 *   130, never abort (onnxruntime's `terminate called … Napi::Error`, exit 134), leave a
 *   checkpoint of this run, and `--resume` must continue from it.
 * - during `build` of a model large enough to take a while: SIGINT or SIGTERM. The process must
 *   exit 130 / 143 (or 0 when the build won), and leave no temp folder and no half directory.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { saveModel } from '../../src/ir/model-io.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { latestCheckpoint, readCheckpoint } from '../../src/artifacts/checkpoint.js';
import { CLI, REPO, runCli } from './cli.js';
import { model, rng } from './graphs.js';

export type TrainSignal = 'SIGTERM' | 'SIGHUP' | 'double-SIGINT';
const EXPECTED: Record<TrainSignal, number> = { SIGTERM: 143, SIGHUP: 129, 'double-SIGINT': 130 };

export interface SignalSetup {
  root: string;
  template: string;
  bigModel: string;
}

/** A wide MLP (about 40 MB of float32 weights) whose build takes long enough to interrupt. */
function writeBigModel(path: string): void {
  const g = new Graph();
  g.name = 'wide';
  const [n, h, c] = [1024, 9216, 10];
  const r = rng(3);
  const fill = (k: number) => Float32Array.from({ length: k }, () => r() - 0.5);
  g.initializers.push(makeTensor('w1', DataType.FLOAT, [n, h], fill(n * h)), makeTensor('w2', DataType.FLOAT, [h, c], fill(h * c)));
  g.inputs.push({ name: 'x', type: tensorType(DataType.FLOAT, ['batch', n]) });
  g.nodes.push({ opType: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'], attributes: [], name: 'fc1' });
  g.nodes.push({ opType: 'Relu', inputs: ['h'], outputs: ['a'], attributes: [], name: 'relu' });
  g.nodes.push({ opType: 'MatMul', inputs: ['a', 'w2'], outputs: ['logits'], attributes: [], name: 'fc2' });
  g.outputs.push({ name: 'logits', type: tensorType(DataType.FLOAT, ['batch', c]) });
  saveModel(model(g), path);
}

export function setupSignals(root: string): SignalSetup {
  const template = join(root, 'template');
  const b = runCli(['build', join(REPO, 'models/mnist_mlp.onnx'), '--loss', 'cross-entropy', '--out', template]);
  expect(b.code, b.stderr).toBe(0);
  const bigModel = join(root, 'wide.onnx');
  writeBigModel(bigModel);
  return { root, template, bigModel };
}

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

/** One signal during training; returns what happened, for the test log. */
export async function trainSignalTrial(s: SignalSetup, kind: TrainSignal, seed: number): Promise<string> {
  const r = rng(seed);
  const dir = join(s.root, `train-${kind}-${seed}`);
  cpSync(s.template, dir, { recursive: true });
  const args = ['train', dir, '--dataset', 'mnist', '--batch-size', '64', '--lr', '1e-3', '--threads', '1'];
  const child = spawn(process.execPath, [CLI, ...args, '--steps', '100000'], { cwd: REPO });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = exitOf(child);
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (stderr.includes('training ')) {
        clearInterval(t);
        resolve();
      }
    }, 10);
  });
  const delay = Math.floor(r() * 1200);
  await new Promise((res) => setTimeout(res, delay));
  const gap = Math.floor(r() * 40);
  if (kind === 'double-SIGINT') {
    child.kill('SIGINT');
    await new Promise((res) => setTimeout(res, gap));
    child.kill('SIGINT');
  } else child.kill(kind);
  const { code } = await exited;
  expect(stderr).not.toMatch(/terminate called|Napi::Error|Aborted/);
  expect(code, stderr).toBe(EXPECTED[kind]);
  const run = join(dir, 'checkpoints', 'run-0001');
  const ckpt = latestCheckpoint(run);
  expect(ckpt, stderr).not.toBeNull();
  const step = readCheckpoint(ckpt!).info.step;
  expect(step).toBeGreaterThan(0);
  const resumed = runCli([...args, '--steps', String(step + 4), '--resume']);
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(resumed.stderr).toContain(`resuming run-0001 from step ${step} `);
  expect(latestCheckpoint(run)).toMatch(new RegExp(`checkpoint-${String(step + 4).padStart(7, '0')}\\.json$`));
  return `${kind} ${delay} ms into training${kind === 'double-SIGINT' ? `, second ${gap} ms later` : ''}: exit ${code}, checkpoint at step ${step}, resumed`;
}

/** One signal during a build; returns what happened. */
export async function buildSignalTrial(s: SignalSetup, signal: 'SIGINT' | 'SIGTERM', seed: number, maxDelayMs: number): Promise<string> {
  const r = rng(seed);
  const parent = join(s.root, `build-${signal}-${seed}`);
  mkdirSync(parent);
  const out = join(parent, 'nested', 'art');
  const child = spawn(process.execPath, [CLI, 'build', s.bigModel, '--loss', 'cross-entropy', '--out', out], { cwd: REPO });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = exitOf(child);
  const delay = Math.floor(r() * maxDelayMs);
  await new Promise((res) => setTimeout(res, delay));
  child.kill(signal);
  const { code, signal: died } = await exited;
  expect(stderr).not.toMatch(/terminate called|Napi::Error/);
  if (died === signal) {
    // It came before Node had started (nothing installed, nothing written): the default action.
    expect(readdirSync(parent)).toEqual([]);
    return `${signal} ${delay} ms after spawn: before lion-onnx started (killed by the signal), nothing left`;
  }
  if (code === 0) {
    // The build finished first: a whole directory, and still no temp folder.
    expect(readdirSync(join(parent, 'nested'))).toEqual(['art']);
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    return `${signal} ${delay} ms after spawn: the build had finished (exit 0)`;
  }
  expect(code, stderr).toBe(signal === 'SIGINT' ? 130 : 143);
  // Nothing left: not the directory, not its temp folder, not the folders made for it.
  expect(readdirSync(parent)).toEqual([]);
  return `${signal} ${delay} ms after spawn: exit ${code}, nothing left`;
}
