/**
 * Fixed batch dimensions (issue 12): a model exported with its batch fixed at 1 (openWakeWord's
 * heads take [1, 16, 96]) trains at any batch size — free-batch-dim makes the leading dim
 * symbolic when nothing in the graph depends on it. A batch-1 model trained at batch 8 follows
 * the same trajectory as the same model exported with a symbolic batch, and its export runs 8
 * rows at once with the same per-row outputs as one at a time. A graph that needs the batch to
 * be 1 (a Reshape to [1, -1], a reduction over the batch axis) keeps it, and train refuses
 * another batch size in one line naming the node.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { makeAttribute } from '../../src/ir/attributes.js';
import { shapeOf, tensorType, type Dim } from '../../src/ir/value-type.js';
import { saveModel } from '../../src/ir/model-io.js';
import { writeNpy } from '../../src/data/npy.js';
import { runBuild } from '../../src/passes/pipeline.js';
import { model, normals, rng } from '../helpers/graphs.js';
import { refusedLine, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const F = DataType.FLOAT;
const dir = tempDir('lion-onnx-batch-');

type Head = 'flatten' | 'reshape-0' | 'reshape-1' | 'reduce-batch';

/** An openWakeWord-like head: x [B, 16, 96] -> (flatten) -> Gemm -> Relu -> Gemm -> Sigmoid -> y [B, 1]. */
function head(batch: Dim, kind: Head = 'flatten'): Model {
  const r = rng(11);
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, [batch, 16, 96]) });
  g.outputs.push({ name: 'y', type: tensorType(F, [batch, 1]) });
  g.valueInfo.push({ name: 'h', type: tensorType(F, [batch, 32]) });
  g.initializers.push(makeTensor('w1', F, [1536, 32], normals(r, 1536 * 32).map((v) => v * 0.03)));
  g.initializers.push(makeTensor('b1', F, [32], normals(r, 32).map((v) => v * 0.1)));
  g.initializers.push(makeTensor('w2', F, [32, 1], normals(r, 32).map((v) => v * 0.2)));
  g.initializers.push(makeTensor('b2', F, [1], [0.05]));
  const n = (opType: string, inputs: string[], outputs: string[], attributes: ReturnType<typeof makeAttribute>[] = []) =>
    g.nodes.push({ opType, inputs, outputs, attributes, name: `/${outputs[0]}/${opType}` });
  if (kind === 'flatten') n('Flatten', ['x'], ['flat'], [makeAttribute('axis', 1)]);
  else {
    g.initializers.push(makeTensor('shape', DataType.INT64, [2], kind === 'reshape-1' ? [1, -1] : [0, -1]));
    n('Reshape', ['x', 'shape'], ['flat']);
  }
  n('Gemm', ['flat', 'w1', 'b1'], ['pre']);
  n('Relu', ['pre'], ['h']);
  if (kind === 'reduce-batch') {
    // Centres each feature on the batch's mean: row i's output depends on the other rows.
    n('ReduceMean', ['h'], ['mean'], [makeAttribute('axes', [0]), makeAttribute('keepdims', 1)]);
    n('Sub', ['h', 'mean'], ['hc']);
    n('Gemm', ['hc', 'w2', 'b2'], ['logit']);
  } else n('Gemm', ['h', 'w2', 'b2'], ['logit']);
  n('Sigmoid', ['logit'], ['y']);
  const m = model(g, 17);
  m.producerName = 'pytorch';
  return m;
}

function data(rows: number): { x: string; t: string } {
  const r = rng(3);
  const x = join(dir, `x${rows}.npy`);
  const t = join(dir, `t${rows}.npy`);
  writeNpy(x, makeTensor('x', F, [rows, 16, 96], normals(r, rows * 1536)));
  writeNpy(t, makeTensor('target', F, [rows, 1], Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0))));
  return { x, t };
}

function build(m: Model, name: string, extra: string[] = []) {
  const file = join(dir, `${name}.onnx`);
  saveModel(m, file);
  const art = join(dir, name);
  const r = runCli(['build', file, '--loss', 'bce', '--out', art, ...extra]);
  return { art, r };
}

function train(art: string, batch: number, extra: string[] = []) {
  const { x, t } = data(32);
  const log = `${art}.${batch}.jsonl`;
  const r = runCli(['train', art, '--data', `x=${x}`, '--data', `target=${t}`, '--no-shuffle', '--batch-size', String(batch), '--steps', '4', '--lr', '1e-3', '--log', log, ...extra]);
  return { r, losses: r.code === 0 ? readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number) : [] };
}

describe('free-batch-dim', { timeout: 120_000 }, () => {
  it('makes a batch of 1 symbolic in the inputs, the outputs and the declared values when nothing depends on it', () => {
    const run = runBuild(head(1), { loss: 'bce' }, { until: 'free-batch-dim', ctx: { check: true } });
    const m = run.models['free-batch-dim']!;
    expect(m.program!.batch).toEqual({ freed: ['x'] });
    expect(shapeOf(m.graph.inputs[0].type)).toEqual(['batch', 16, 96]);
    expect(shapeOf(m.graph.outputs[0].type)).toEqual(['batch', 1]);
    expect(shapeOf(m.graph.valueInfo[0].type)).toEqual(['batch', 32]);
    // Reshape [0, -1] copies the batch: still free.
    expect(runBuild(head(1, 'reshape-0'), { loss: 'bce' }, { until: 'free-batch-dim' }).models['free-batch-dim']!.program!.batch).toEqual({ freed: ['x'] });
  });

  it('leaves a model alone when its batch is symbolic already, or on request (--fixed-batch)', () => {
    const symbolic = runBuild(head('N'), { loss: 'bce' }, { until: 'free-batch-dim' }).steps.at(-1)!;
    expect(symbolic.modified).toBe(false);
    const kept = runBuild(head(1), { loss: 'bce', fixedBatch: true }, { until: 'free-batch-dim' }).steps.at(-1)!;
    expect(kept.modified).toBe(false);
    expect(shapeOf(kept.output.graph.inputs[0].type)).toEqual([1, 16, 96]);
  });

  it('keeps the batch at 1 and says which node needs it: a Reshape to [1, -1], a reduction over the batch', () => {
    const reshape = runBuild(head(1, 'reshape-1'), { loss: 'bce' }, { until: 'free-batch-dim' }).models['free-batch-dim']!;
    expect(reshape.program!.batch!.fixedBy).toBe("node '/flat/Reshape' (Reshape) reshapes to [1, -1], which fixes the first dimension at 1");
    expect(shapeOf(reshape.graph.inputs[0].type)).toEqual([1, 16, 96]);
    const reduce = runBuild(head(1, 'reduce-batch'), { loss: 'bce' }, { until: 'free-batch-dim' }).models['free-batch-dim']!;
    expect(reduce.program!.batch!.fixedBy).toMatch(/^node '\/mean\/ReduceMean' \(ReduceMean\) reduces over the batch axis/);
  });

  it('a batch-1 export trains at batch 8 exactly as the same model exported with a symbolic batch', () => {
    const fixed = build(head(1), 'fixed1');
    expect(fixed.r.code, fixed.r.stderr).toBe(0);
    expect(fixed.r.stdout).toContain('batch: exported as 1, now any size (x)');
    const symbolic = build(head('N'), 'symbolic');
    expect(symbolic.r.code, symbolic.r.stderr).toBe(0);
    const a = train(fixed.art, 8, ['--export', join(dir, 'fixed1-trained.onnx')]);
    const b = train(symbolic.art, 8);
    expect(a.r.code, a.r.stderr).toBe(0);
    expect(a.losses).toHaveLength(4);
    expect(a.losses).toEqual(b.losses);
  });

  it("the trained export takes 8 rows at once, each row's output the same as run alone", async () => {
    const s = await ort.InferenceSession.create(join(dir, 'fixed1-trained.onnx'));
    const r = rng(9);
    const x = Float32Array.from(normals(r, 8 * 1536));
    const all = (await s.run({ x: new ort.Tensor('float32', x, [8, 16, 96]) })).y.data as Float32Array;
    for (let i = 0; i < 8; i++) {
      const one = (await s.run({ x: new ort.Tensor('float32', x.slice(i * 1536, (i + 1) * 1536), [1, 16, 96]) })).y.data as Float32Array;
      expect(Math.abs(one[0] - all[i])).toBeLessThanOrEqual(1e-6 * Math.abs(one[0]));
    }
    await s.release();
  });

  it('a model that needs its batch of 1: build warns, train refuses another batch size in one line and trains at 1', () => {
    const b = build(head(1, 'reshape-1'), 'reshape1');
    expect(b.r.code, b.r.stderr).toBe(0);
    expect(b.r.stdout).toContain("warning: the batch stays fixed at 1, so train takes only --batch-size 1: node '/flat/Reshape' (Reshape) reshapes to [1, -1]");
    const line = refusedLine(train(b.art, 8).r);
    expect(line).toBe("error: the model's batch is fixed at 1 (node '/flat/Reshape' (Reshape) reshapes to [1, -1], which fixes the first dimension at 1); train with --batch-size 1");
    const ok = train(b.art, 1);
    expect(ok.r.code, ok.r.stderr).toBe(0);
    expect(ok.losses.every(Number.isFinite)).toBe(true);
  });

  it('--fixed-batch: the build keeps the 1 and train says so', () => {
    const b = build(head(1), 'kept', ['--fixed-batch']);
    expect(b.r.code, b.r.stderr).toBe(0);
    expect(refusedLine(train(b.art, 8).r)).toBe("error: the model's batch is fixed at 1 (data input 'x' is declared with a leading dimension of 1 and the build kept it (--fixed-batch)); train with --batch-size 1");
  });
});
