/**
 * A model that already outputs probabilities (a final Sigmoid, Softmax or LogSoftmax — a
 * published wake-word head, a classifier exported with its softmax) gets the loss a torch user
 * trains it with: BCELoss / NLLLoss on log p, built on the activation's input as the logits
 * (the same value, without overflow). Treating probabilities as logits would train toward the
 * wrong thing silently. The loss the appended graph computes (onnxruntime) is compared with the
 * float64 loss on the model's own probability output.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { makeAttribute } from '../../src/ir/attributes.js';
import { tensorType } from '../../src/ir/value-type.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { runBuild } from '../../src/passes/pipeline.js';
import { model, normals, rng } from '../helpers/graphs.js';

const F = DataType.FLOAT;
const B = 6;
const C = 4;

/** x [B, 5] -> Gemm -> head (Sigmoid, Softmax, LogSoftmax, Sigmoid -> Identity, none) -> y. */
function classifier(headOps: string[], classes: number): Model {
  const r = rng(4);
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, ['B', 5]) });
  g.outputs.push({ name: 'y', type: tensorType(F, ['B', classes]) });
  // Large weights: logits of ±10 or more, where probabilities-as-logits would be far off.
  g.initializers.push(makeTensor('w', F, [5, classes], normals(r, 5 * classes).map((v) => 4 * v)));
  g.initializers.push(makeTensor('b', F, [classes], normals(r, classes)));
  g.nodes.push({ opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: [headOps.length ? 'z0' : 'y'], attributes: [], name: 'fc' });
  headOps.forEach((op, i) => {
    const attrs = op === 'Softmax' || op === 'LogSoftmax' ? [makeAttribute('axis', -1)] : [];
    g.nodes.push({ opType: op, inputs: [`z${i}`], outputs: [i === headOps.length - 1 ? 'y' : `z${i + 1}`], attributes: attrs, name: `head${i}` });
  });
  return model(g, 17);
}

async function lossAndOutput(m: Model, loss: 'bce' | 'cross-entropy' | 'mse', x: Float32Array, target: ort.Tensor) {
  const run = runBuild(m, { loss }, { until: 'append-loss', ctx: { check: true } });
  const withLoss = run.models['append-loss']!;
  const s = await ort.InferenceSession.create(modelToBytes(withLoss));
  const out = await s.run({ x: new ort.Tensor('float32', x, [B, 5]), target });
  await s.release();
  const info = withLoss.program!.loss!;
  return { loss: (out[info.name].data as Float32Array)[0], y: out.y.data as Float32Array, info };
}

const x = Float32Array.from(normals(rng(8), B * 5));

/** The Gemm's logits in float64 (the reference: a float32 probability near 1 has lost log(1 - p)). */
function logits64(m: Model, classes: number): number[] {
  const w = m.graph.initializer('w')!.data as Float32Array;
  const b = m.graph.initializer('b')!.data as Float32Array;
  const z: number[] = [];
  for (let i = 0; i < B; i++)
    for (let c = 0; c < classes; c++) {
      let s = b[c];
      for (let k = 0; k < 5; k++) s += x[i * 5 + k] * w[k * classes + c];
      z.push(s);
    }
  return z;
}

describe('a loss on an output that is already a probability', () => {
  it.each([[['Sigmoid']], [['Sigmoid', 'Identity']]])('bce after %j: BCELoss on the probabilities', async (head) => {
    const t = Float32Array.from({ length: B }, (_, i) => i % 2);
    const m = classifier(head, 1);
    const { loss, info } = await lossAndOutput(m, 'bce', x, new ort.Tensor('float32', t, [B, 1]));
    expect(info.logits).toEqual({ name: 'z0', activation: 'Sigmoid', node: 'head0' });
    const p = logits64(m, 1).map((z) => 1 / (1 + Math.exp(-z)));
    let want = 0;
    for (let i = 0; i < B; i++) want -= (t[i] * Math.log(p[i]) + (1 - t[i]) * Math.log(1 - p[i])) / B;
    expect(Math.abs(loss - want)).toBeLessThanOrEqual(1e-5 * want);
  });

  it.each([[['Softmax']], [['LogSoftmax']]])('cross-entropy after %j: NLL of the probabilities', async (head) => {
    const t = BigInt64Array.from({ length: B }, (_, i) => BigInt(i % C));
    const { loss, y, info } = await lossAndOutput(classifier(head, C), 'cross-entropy', x, new ort.Tensor('int64', t, [B]));
    expect(info.logits?.activation).toBe(head[0]);
    let want = 0;
    for (let i = 0; i < B; i++) {
      const v = y[i * C + Number(t[i])];
      want -= (head[0] === 'Softmax' ? Math.log(v) : v) / B;
    }
    expect(Math.abs(loss - want)).toBeLessThanOrEqual(1e-5 * want);
  });

  /** BCELoss in float64 on the model's own probability output, p clipped as the loss clips it. */
  const bceOn = (y: Float32Array, t: Float32Array) => {
    let want = 0;
    for (let i = 0; i < t.length; i++) {
      const p = Math.min(Math.max(y[i], Math.fround(1e-7)), Math.fround(1 - 1e-7));
      want -= (t[i] * Math.log(p) + (1 - t[i]) * Math.log(1 - p)) / t.length;
    }
    return want;
  };

  it('bce on a mean of Sigmoids (silero VAD): BCE on the probabilities, not on them as logits', async () => {
    const t = Float32Array.from({ length: B }, (_, i) => i % 2);
    const m = classifier(['Sigmoid'], 3);
    // y = mean over the 3 probabilities, [B, 1].
    m.graph.nodes.at(-1)!.outputs = ['p'];
    m.graph.nodes.push({ opType: 'ReduceMean', inputs: ['p'], outputs: ['y'], attributes: [makeAttribute('axes', [1]), makeAttribute('keepdims', 1)], name: 'mean' });
    m.graph.outputs[0].type = tensorType(F, ['B', 1]);
    const { loss, y, info } = await lossAndOutput(m, 'bce', x, new ort.Tensor('float32', t, [B, 1]));
    expect(info.logits).toBeUndefined();
    expect(info.probabilities).toEqual({ activation: 'Sigmoid', node: 'head0' });
    const want = bceOn(y, t);
    expect(Math.abs(loss - want)).toBeLessThanOrEqual(1e-5 * want);
  });

  it('bce on an If whose branches both end in a Sigmoid (openWakeWord heads with a verifier): BCE on the probabilities', async () => {
    const t = Float32Array.from({ length: B }, (_, i) => i % 2);
    for (const take of ['then', 'else']) {
      const m = classifier(['Sigmoid'], 1);
      const g = m.graph;
      g.nodes.at(-1)!.outputs = ['p1'];
      // cond = max(x) > threshold, decided by the data: then = a second Sigmoid inside the branch, else = p1 from outside.
      g.nodes.push({ opType: 'ReduceMax', inputs: ['x'], outputs: ['xmax'], attributes: [makeAttribute('keepdims', 0)], name: 'xmax' });
      g.initializers.push(makeTensor('threshold', F, [], [take === 'then' ? -100 : 100]));
      g.nodes.push({ opType: 'Greater', inputs: ['xmax', 'threshold'], outputs: ['cond'], attributes: [], name: 'cond' });
      const then = new Graph();
      then.name = 'then';
      then.initializers.push(makeTensor('two', F, [], [2]));
      then.nodes.push({ opType: 'Mul', inputs: ['z0', 'two'], outputs: ['z2'], attributes: [], name: 'then_mul' });
      then.nodes.push({ opType: 'Sigmoid', inputs: ['z2'], outputs: ['p2'], attributes: [], name: 'then_sigmoid' });
      then.outputs.push({ name: 'p2', type: tensorType(F, ['B', 1]) });
      const otherwise = new Graph();
      otherwise.name = 'else';
      otherwise.nodes.push({ opType: 'Identity', inputs: ['p1'], outputs: ['p1_copy'], attributes: [], name: 'else_copy' });
      otherwise.outputs.push({ name: 'p1_copy', type: tensorType(F, ['B', 1]) });
      g.nodes.push({ opType: 'If', inputs: ['cond'], outputs: ['y'], attributes: [makeAttribute('then_branch', then), makeAttribute('else_branch', otherwise)], name: 'verify' });
      const { loss, y, info } = await lossAndOutput(m, 'bce', x, new ort.Tensor('float32', t, [B, 1]));
      expect(info.logits).toBeUndefined();
      expect(info.probabilities?.activation).toBe('Sigmoid');
      const want = bceOn(y, t);
      expect(Math.abs(loss - want), take).toBeLessThanOrEqual(1e-5 * want);
    }
  });

  it('cross-entropy on a Softmax seen through a rearrangement: the NLL of the probabilities, not of their log-softmax', async () => {
    const t = BigInt64Array.from({ length: B }, (_, i) => BigInt(i % C));
    const m = classifier(['Softmax'], C);
    // y = Unsqueeze(p, 1): [B, 1, C], so the Softmax is not the output's producer.
    m.graph.nodes.at(-1)!.outputs = ['p'];
    m.graph.initializers.push(makeTensor('axis1', DataType.INT64, [1], [1]));
    m.graph.nodes.push({ opType: 'Unsqueeze', inputs: ['p', 'axis1'], outputs: ['y'], attributes: [], name: 'unsqueeze' });
    m.graph.outputs[0].type = tensorType(F, ['B', 1, C]);
    const { loss, y, info } = await lossAndOutput(m, 'cross-entropy', x, new ort.Tensor('int64', t, [B, 1]));
    expect(info.logits).toBeUndefined();
    expect(info.probabilities).toEqual({ activation: 'Softmax', node: 'head0' });
    let want = 0;
    for (let i = 0; i < B; i++) want -= Math.log(Math.max(y[i * C + Number(t[i])], Math.fround(1e-7))) / B;
    expect(Math.abs(loss - want)).toBeLessThanOrEqual(1e-5 * want);
  });

  it('a probability read twice (Max(p, p)) is still a probability', async () => {
    const t = Float32Array.from({ length: B }, (_, i) => i % 2);
    const m = classifier(['Sigmoid'], 1);
    m.graph.nodes.at(-1)!.outputs = ['p'];
    m.graph.nodes.push({ opType: 'Max', inputs: ['p', 'p'], outputs: ['y'], attributes: [], name: 'max' });
    const { loss, y, info } = await lossAndOutput(m, 'bce', x, new ort.Tensor('float32', t, [B, 1]));
    expect(info.probabilities).toEqual({ activation: 'Sigmoid', node: 'head0' });
    const want = bceOn(y, t);
    expect(Math.abs(loss - want)).toBeLessThanOrEqual(1e-5 * want);
  });

  it('an op that can leave [0, 1] (2·Sigmoid) makes the output a logit again', async () => {
    const t = Float32Array.from({ length: B }, (_, i) => i % 2);
    const m = classifier(['Sigmoid'], 1);
    m.graph.nodes.at(-1)!.outputs = ['p'];
    m.graph.initializers.push(makeTensor('two', F, [], [2]));
    m.graph.nodes.push({ opType: 'Mul', inputs: ['p', 'two'], outputs: ['y'], attributes: [], name: 'double' });
    const { loss, y, info } = await lossAndOutput(m, 'bce', x, new ort.Tensor('float32', t, [B, 1]));
    expect(info.logits).toBeUndefined();
    expect(info.probabilities).toBeUndefined();
    let want = 0;
    for (let i = 0; i < B; i++) want += (Math.max(y[i], 0) - y[i] * t[i] + Math.log1p(Math.exp(-Math.abs(y[i])))) / B;
    expect(Math.abs(loss - want)).toBeLessThanOrEqual(1e-5 * want);
  });

  it('mse, and outputs that are logits, are left as they are', async () => {
    const t = Float32Array.from({ length: B }, (_, i) => i % 2);
    const mse = await lossAndOutput(classifier(['Sigmoid'], 1), 'mse', x, new ort.Tensor('float32', t, [B, 1]));
    expect(mse.info.logits).toBeUndefined();
    let want = 0;
    for (let i = 0; i < B; i++) want += (mse.y[i] - t[i]) ** 2 / B;
    expect(Math.abs(mse.loss - want)).toBeLessThanOrEqual(1e-5 * want);
    const logits = await lossAndOutput(classifier([], 1), 'bce', x, new ort.Tensor('float32', t, [B, 1]));
    expect(logits.info.logits).toBeUndefined();
    let bce = 0;
    for (let i = 0; i < B; i++) {
      const z = logits.y[i];
      bce += (Math.max(z, 0) - z * t[i] + Math.log1p(Math.exp(-Math.abs(z)))) / B;
    }
    expect(Math.abs(logits.loss - bce)).toBeLessThanOrEqual(1e-5 * bce);
  });
});
