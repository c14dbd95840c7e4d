/**
 * Non-finite gradients: by default a step whose gradients hold NaN or ±Inf leaves every
 * parameter and momentum unchanged and is counted as skipped; `error` stops with a DataError;
 * `propagate` applies the update (NaN reaches the parameters, as sign(NaN) = NaN).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataError } from '../../src/errors.js';
import { insertLion, insertOptimizer } from '../../src/passes/optimizer/insert-optimizer.js';
import { writeArtifacts } from '../../src/artifacts/write.js';
import { runtimeGraphs } from '../../src/passes/pipeline.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { NONFINITE_OUTPUT, type NonFiniteMode } from '../../src/optim/nonfinite.js';
import { gradientsAsInputs } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const f32 = (v: number[]) => new ort.Tensor('float32', Float32Array.from(v), [v.length]);
const unstackRow = (t: ort.Tensor, i: number) => {
  const n = t.dims[1];
  return f32(Array.from((t.data as Float32Array).slice(i * n, (i + 1) * n)));
};

let made = 0;
async function session(mode: NonFiniteMode, optimizer: 'lion' | 'adamw' | 'sgd' = 'lion', hyperparameters: Record<string, number> = {}) {
  const grads = gradientsAsInputs({ a: { dims: [3], values: [1, 2, 3] }, b: { dims: [2], values: [-1, 1] } });
  const program =
    optimizer === 'lion' ? insertLion(grads, { nonFinite: mode, hyperparameters: { weightDecay: 0.1, ...hyperparameters } }) : insertOptimizer(grads, { optimizer, nonFinite: mode, hyperparameters });
  const out = join(dir, `${mode}-${optimizer}-${made++}`);
  writeArtifacts(out, runtimeGraphs(program), { command: 'test' });
  return TrainingSession.create(out, { lr: 0.01 });
}

const snapshot = (s: TrainingSession) => ['a', 'b'].flatMap((n) => [...(s.getParameter(n).data as Float32Array), ...s.getState(n).flatMap((t) => [...(t.data as Float32Array)])]);

/** 8 steps' gradients, [8, n] per input, with NaN at step 3 and -Inf at step 6. */
function eightSteps() {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 8; i++) {
    a.push(0.5 - 0.1 * i, i % 2 ? 0.3 : -0.2, 1 - 0.05 * i);
    b.push(i === 3 ? NaN : 0.7, i === 6 ? -Infinity : -0.4 + 0.1 * i);
  }
  return { a, b };
}

describe('non-finite gradients', () => {
  it('skip (default): NaN or Inf anywhere leaves all state unchanged and counts the step', async () => {
    const s = await session('skip');
    await s.step({ 'g:a': f32([0.5, -0.5, 1]), 'g:b': f32([1, 1]) });
    const before = snapshot(s);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const r = await s.step({ 'g:a': f32([0.5, 0.5, 0.5]), 'g:b': f32([1, bad]) });
      expect(r.skipped).toBe(true);
      expect(snapshot(s)).toEqual(before);
    }
    expect(s.skippedSteps).toBe(3);
    const r = await s.step({ 'g:a': f32([0.5, 0.5, 0.5]), 'g:b': f32([1, 1]) });
    expect(r.skipped).toBeUndefined();
    expect(snapshot(s)).not.toEqual(before);
    expect(s.stepCount).toBe(5);
    await s.dispose();
  });

  it('skip emits every update inside one If on the flag, not a Where per tensor', () => {
    for (const optimizer of ['lion', 'adamw', 'sgd'] as const) {
      const program = insertOptimizer(gradientsAsInputs({ a: { dims: [3], values: [1, 2, 3] }, b: { dims: [2], values: [-1, 1] } }), { optimizer });
      const top = program.model.graph.nodes;
      // One If on the flag (the flag's own If, on the rough sum, is the other).
      expect(top.filter((n) => n.opType === 'If' && n.inputs[0] === NONFINITE_OUTPUT)).toHaveLength(1);
      expect(top.some((n) => n.opType === 'Where')).toBe(false);
      // Each parameter and state output is written by the If (never by an update node outside it).
      const ifNode = top.find((n) => n.opType === 'If' && n.inputs[0] === NONFINITE_OUTPUT)!;
      const written = program.outputs.filter((o) => o.role === 'param' || o.role === 'state').map((o) => o.name);
      expect([...ifNode.outputs].sort()).toEqual([...written].sort());
    }
  });

  it.each(['lion', 'adamw', 'sgd'] as const)('%s: the K-step loop (no guard inside) replays a run that met a non-finite gradient: the same state, skips and lrs as single steps', async (optimizer) => {
    const { a, b } = eightSteps();
    const loop = await session('skip', optimizer);
    const single = await session('skip', optimizer);
    const looped = await loop.stepStacked({ 'g:a': new ort.Tensor('float32', Float32Array.from(a), [8, 3]), 'g:b': new ort.Tensor('float32', Float32Array.from(b), [8, 2]) }, 8);
    const stepped = [];
    for (let i = 0; i < 8; i++) stepped.push(await single.step({ 'g:a': f32(a.slice(3 * i, 3 * i + 3)), 'g:b': f32(b.slice(2 * i, 2 * i + 2)) }));
    expect(looped.map((x) => !!x.skipped)).toEqual([false, false, false, true, false, false, true, false]);
    expect(looped).toEqual(stepped);
    expect(snapshot(loop)).toEqual(snapshot(single));
    expect(loop.skippedSteps).toBe(2);
    // And without a non-finite gradient the loop's own result is taken: the same as single steps.
    const clean = { 'g:a': new ort.Tensor('float32', Float32Array.from(a), [8, 3]), 'g:b': new ort.Tensor('float32', Float32Array.from(b.map((v) => (Number.isFinite(v) ? v : 0.1))), [8, 2]) };
    await loop.stepStacked(clean, 8);
    for (let i = 0; i < 8; i++) await single.step({ 'g:a': unstackRow(clean['g:a'], i), 'g:b': unstackRow(clean['g:b'], i) });
    expect(snapshot(loop)).toEqual(snapshot(single));
    await loop.dispose();
    await single.dispose();
  });

  it('the flag is exact: finite gradients whose float32 sum overflows are applied, not skipped', async () => {
    for (const optimizer of ['lion', 'adamw', 'sgd'] as const) {
      const s = await session('skip', optimizer);
      const before = snapshot(s);
      const r = await s.step({ 'g:a': f32([3e38, 3e38, 3e38]), 'g:b': f32([-3e38, 1]) });
      expect(r.skipped).toBeUndefined();
      expect(snapshot(s)).not.toEqual(before);
      const r2 = await s.step({ 'g:a': f32([3e38, 3e38, Infinity]), 'g:b': f32([1, 1]) });
      expect(r2.skipped).toBe(true);
      await s.dispose();
    }
  });

  it.each([
    ['lion', { beta2: 0 }],
    ['lion', { beta2: 0.99 }],
    ['adamw', { beta1: 0 }],
    ['sgd', { momentum: 0 }],
  ] as const)('%s %j: the loop, which checks only its final state, replays exactly the runs single steps would skip in (huge finite gradients too)', async (optimizer, hyper) => {
    const { a: a0, b: b0 } = eightSteps();
    const cases = [
      { a: a0, b: b0 }, // NaN at step 3, -Inf at step 6
      { a: a0, b: b0.map((v) => (Number.isNaN(v) ? 0.7 : v)) }, // -Inf alone: the parameters stay finite, only the momentum shows it
      { a: a0, b: b0.map((v, j) => (Number.isFinite(v) ? (j === 4 ? 3e38 : v) : 0.2)) }, // finite, but a float32 sum overflows
    ];
    for (const { a, b } of cases) {
      const loop = await session('skip', optimizer, hyper);
      const single = await session('skip', optimizer, hyper);
      const looped = await loop.stepStacked({ 'g:a': new ort.Tensor('float32', Float32Array.from(a), [8, 3]), 'g:b': new ort.Tensor('float32', Float32Array.from(b), [8, 2]) }, 8);
      const stepped = [];
      for (let i = 0; i < 8; i++) stepped.push(await single.step({ 'g:a': f32(a.slice(3 * i, 3 * i + 3)), 'g:b': f32(b.slice(2 * i, 2 * i + 2)) }));
      expect(looped).toEqual(stepped);
      expect(snapshot(loop)).toEqual(snapshot(single));
      await loop.dispose();
      await single.dispose();
    }
  });

  it('the loop checks its final momenta once per run, not every gradient on every step', async () => {
    const s = await session('skip');
    const { loadModel } = await import('../../src/ir/model-io.js');
    const outer = loadModel(join(s.artifacts.dir, 'loop.onnx')).graph;
    const body = outer.nodes.find((n) => n.opType === 'Loop')!.attributes[0].value as { nodes: { opType: string }[]; outputs: { name: string }[] };
    expect(body.nodes.filter((n) => n.opType === 'ReduceSum' || n.opType === 'IsNaN')).toEqual([]);
    expect(body.outputs.some((o) => o.name.startsWith(NONFINITE_OUTPUT))).toBe(false);
    const sums = outer.nodes.filter((n) => n.opType === 'ReduceSum').map((n) => n.inputs[0]);
    expect(sums.sort()).toEqual(['a.lion_m.out', 'b.lion_m.out']);
    await s.dispose();
  });

  it('the loop graph has no If: its updates always apply, and the manifest says the runtime replays', async () => {
    const s = await session('skip');
    expect(s.manifest.loopSkip).toBe('replay');
    const { loadModel } = await import('../../src/ir/model-io.js');
    const loopBody = loadModel(join(s.artifacts.dir, 'loop.onnx')).graph.nodes.find((n) => n.opType === 'Loop')!.attributes[0].value as { nodes: { opType: string }[] };
    expect(loopBody.nodes.some((n) => n.opType === 'If')).toBe(false);
    await s.dispose();
  });

  it('error: the loop stops at the step that met it, with the steps before it applied', async () => {
    const { a, b } = eightSteps();
    const loop = await session('error');
    const single = await session('error');
    await expect(loop.stepStacked({ 'g:a': new ort.Tensor('float32', Float32Array.from(a), [8, 3]), 'g:b': new ort.Tensor('float32', Float32Array.from(b), [8, 2]) }, 8)).rejects.toThrow(/at step 4/);
    for (let i = 0; i < 3; i++) await single.step({ 'g:a': f32(a.slice(3 * i, 3 * i + 3)), 'g:b': f32(b.slice(2 * i, 2 * i + 2)) });
    expect(snapshot(loop)).toEqual(snapshot(single));
    await loop.dispose();
    await single.dispose();
  });

  it('error: stops with a DataError and the state unchanged', async () => {
    const s = await session('error');
    const before = snapshot(s);
    await expect(s.step({ 'g:a': f32([NaN, 0, 0]), 'g:b': f32([1, 1]) })).rejects.toThrow(DataError);
    expect(snapshot(s)).toEqual(before);
    await s.dispose();
  });

  it('propagate: no check, NaN reaches the parameter', async () => {
    const s = await session('propagate');
    expect(s.manifest.outputs.some((o) => o.role === 'nonfinite')).toBe(false);
    await s.step({ 'g:a': f32([NaN, 0, 0]), 'g:b': f32([1, 1]) });
    const a = s.getParameter('a').data as Float32Array;
    expect(Number.isNaN(a[0])).toBe(true);
    expect(a[1]).toBeCloseTo(2 * (1 - 0.001), 6);
    await s.dispose();
  });
});
