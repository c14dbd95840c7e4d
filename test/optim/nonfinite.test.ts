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
import type { NonFiniteMode } from '../../src/optim/nonfinite.js';
import { gradientsAsInputs } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const f32 = (v: number[]) => new ort.Tensor('float32', Float32Array.from(v), [v.length]);

async function session(mode: NonFiniteMode) {
  const program = insertLion(gradientsAsInputs({ a: { dims: [3], values: [1, 2, 3] }, b: { dims: [2], values: [-1, 1] } }), { nonFinite: mode, hyperparameters: { weightDecay: 0.1 } });
  const out = join(dir, mode);
  writeArtifacts(out, runtimeGraphs(program), { command: 'test' });
  return TrainingSession.create(out, { lr: 0.01 });
}

const snapshot = (s: TrainingSession) => ['a', 'b'].flatMap((n) => [...(s.getParameter(n).data as Float32Array), ...(s.getState(n)[0].data as Float32Array)]);

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
      expect(top.filter((n) => n.opType === 'If')).toHaveLength(1);
      expect(top.some((n) => n.opType === 'Where')).toBe(false);
      // Each parameter and state output is written by the If (never by an update node outside it).
      const ifNode = top.find((n) => n.opType === 'If')!;
      const written = program.outputs.filter((o) => o.role === 'param' || o.role === 'state').map((o) => o.name);
      expect([...ifNode.outputs].sort()).toEqual([...written].sort());
    }
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
