/**
 * ONNX Runtime's own training test data (test/fixtures/ort-training/, MIT; SOURCE.md), rewritten
 * and trained as a user would: `rewrite training_model.onnx --init checkpoint.ckpt` (parameters as
 * graph inputs, gradients behind InPlaceAccumulatorV2, ReluGrad and SoftmaxCrossEntropyLossGrad
 * lowered to standard ops), trained on ORT's test batch (input-0.in as [2, 784], labels {1, 1}):
 * the step-1 loss equals ORT's loss_1.out, and the trajectory follows PyTorch + the reference
 * Lion on the same MLP and weights (scripts/torch/make_ort_training_reference.py). The same
 * weights from a .safetensors file or an ONNX model give the same losses. Bad weights are
 * refused in one line at rewrite time. The 2022 form (gradient_graph.onnx, opset 12, ReduceSum axes as an
 * attribute) is upgraded to opset 16 first and trains to the same trajectory.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { writeNpy } from '../../src/data/npy.js';
import { readSafetensors, writeSafetensors } from '../../src/artifacts/safetensors.js';
import { decodeOrtCheckpoint } from '../../src/onnx/ort-checkpoint.js';
import { Graph } from '../../src/ir/graph.js';
import { saveModel } from '../../src/ir/model-io.js';
import { model } from '../helpers/graphs.js';
import { REPO, refusedLine, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { FIRST_STEPS, FIRST_TOL, ALL_TOL, maxRelError } from './fixtures.js';

const ROOT = join(REPO, 'test/fixtures/ort-training');
const dir = tempDir('lion-onnx-ort-training-');
const ref = JSON.parse(readFileSync(join(ROOT, 'lion-trajectory.json'), 'utf8')) as {
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  weight_decay: number;
  training_model: { losses: number[]; final: Record<string, { l2: number }> };
  gradient_graph: { losses: number[] };
};

/** ORT's text tensors: a name line, then `[v0,v1,...]`. */
function textTensor(file: string): number[] {
  return readFileSync(join(ROOT, file), 'utf8').split('\n')[1].replace(/[[\]\s]/g, '').split(',').filter(Boolean).map(Number);
}

const x = join(dir, 'x.npy');
const labels = join(dir, 'labels.npy');
writeNpy(x, makeTensor('x', DataType.FLOAT, [2, 784], textTensor('input-0.in')));
writeNpy(labels, makeTensor('labels', DataType.INT32, [2], [1, 1]));

function rewriteAndTrain(graph: string, init: string, name: string, inputs: [string, string]) {
  const art = join(dir, name);
  const rw = runCli(['rewrite', join(ROOT, graph), '--init', init, '--out', art]);
  expect(rw.code, rw.stderr).toBe(0);
  const log = join(dir, `${name}.jsonl`);
  const tr = runCli(['train', art, '--data', `${inputs[0]}=${x}`, '--data', `${inputs[1]}=${labels}`, '--batch-size', '2', '--no-shuffle', '--steps', String(ref.steps),
    '--lr', String(ref.lr), '--beta1', String(ref.beta1), '--beta2', String(ref.beta2), '--weight-decay', String(ref.weight_decay), '--log', log]);
  expect(tr.code, tr.stderr).toBe(0);
  return { art, rewrite: rw.stdout, losses: readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number) };
}

describe("ONNX Runtime's training_model.onnx + checkpoint.ckpt", { timeout: 120_000 }, () => {
  const ckpt = join(ROOT, 'checkpoint.ckpt');
  let losses: number[] = [];

  it('rewrites with its checkpoint and trains: step 1 is ORT\u2019s loss_1.out, steps 1-5 are PyTorch + reference Lion', () => {
    const r = rewriteAndTrain('training_model.onnx', ckpt, 'current', ['input-0', 'labels']);
    expect(r.rewrite).toContain('initial weights: 4 tensors from');
    expect(r.rewrite).toContain('(onnxruntime checkpoint)');
    losses = r.losses;
    const loss1 = textTensor('loss_1.out')[0];
    const e1 = Math.abs(losses[0] - loss1) / loss1;
    const e5 = maxRelError(losses, ref.training_model.losses, FIRST_STEPS);
    console.log(`ORT training_model: step-1 loss ${losses[0]} vs loss_1.out ${loss1} (rel ${e1.toExponential(2)}); first ${FIRST_STEPS} vs torch: ${e5.toExponential(2)}, all ${ref.steps}: ${maxRelError(losses, ref.training_model.losses).toExponential(2)}`);
    expect(e1).toBeLessThanOrEqual(1e-5);
    expect(e5).toBeLessThan(FIRST_TOL);
    expect(maxRelError(losses, ref.training_model.losses)).toBeLessThan(ALL_TOL);
  });

  it('the same weights as a .safetensors file or an ONNX model give the same losses', () => {
    const ck = decodeOrtCheckpoint(readFileSync(ckpt), 'checkpoint.ckpt');
    const st = join(dir, 'weights.safetensors');
    writeSafetensors(st, ck.trainable);
    expect(rewriteAndTrain('training_model.onnx', st, 'safetensors', ['input-0', 'labels']).losses).toEqual(losses);
    const g = new Graph();
    g.initializers.push(...ck.trainable);
    const onnxFile = join(dir, 'weights.onnx');
    saveModel(model(g, 14), onnxFile);
    const r = rewriteAndTrain('training_model.onnx', onnxFile, 'onnx', ['input-0', 'labels']);
    expect(r.rewrite).toContain('(onnx)');
    expect(r.losses).toEqual(losses);
  });

  it('--eval-data on rewrite artifacts (no eval graph) is refused in one line', () => {
    const line = refusedLine(runCli(['train', join(dir, 'current'), '--data', `input-0=${x}`, '--data', `labels=${labels}`, '--eval-data', `input-0=${x}`, '--eval-data', `labels=${labels}`, '--batch-size', '2', '--steps', '1']));
    expect(line).toMatch(/has no eval graph \(artifacts made by 'rewrite'\), so --eval-data cannot be evaluated/);
  });

  it('export writes the trained weights into a standard-ONNX graph', () => {
    const out = join(dir, 'trained.onnx');
    const r = runCli(['export', join(dir, 'current'), '-o', out, '--safetensors', join(dir, 'trained.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
    const inspect = runCli(['inspect', out]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).not.toContain('com.microsoft');
    // The exported weights are torch's after the same 8 steps (L2 norms within 1e-5 relative).
    const trained = readSafetensors(join(dir, 'trained.safetensors')).tensors;
    for (const [name, { l2 }] of Object.entries(ref.training_model.final)) {
      const t = trained.get(name)!.data as Float32Array;
      const norm = Math.sqrt(t.reduce((s, v) => s + v * v, 0));
      expect(Math.abs(norm - l2) / l2, name).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe("ONNX Runtime's 2022 gradient_graph.onnx (opset 12) + its .pbseq checkpoint", { timeout: 120_000 }, () => {
  it('upgrades to opset 16, rewrites and trains: step 1 is ORT\u2019s loss_1.out, the trajectory PyTorch + reference Lion', () => {
    const r = rewriteAndTrain('gradient_graph.onnx', join(ROOT, 'gradient_graph.ckpt'), 'legacy', ['input1', 'target']);
    expect(r.rewrite).toContain('initial weights: 4 tensors from');
    const loss1 = Number(readFileSync(join(ROOT, 'gradient_graph.loss_1.out'), 'utf8').split('\n')[1]);
    expect(loss1).toBe(2.54967);
    // loss_1.out keeps 6 significant digits.
    const e1 = Math.abs(r.losses[0] - loss1) / loss1;
    const e5 = maxRelError(r.losses, ref.gradient_graph.losses, FIRST_STEPS);
    console.log(`ORT gradient_graph: step-1 loss ${r.losses[0]} vs loss_1.out ${loss1} (rel ${e1.toExponential(2)}); first ${FIRST_STEPS} vs torch: ${e5.toExponential(2)}, all ${ref.steps}: ${maxRelError(r.losses, ref.gradient_graph.losses).toExponential(2)}`);
    expect(e1).toBeLessThanOrEqual(5e-6);
    expect(e5).toBeLessThan(FIRST_TOL);
    expect(maxRelError(r.losses, ref.gradient_graph.losses)).toBeLessThan(ALL_TOL);
  });
});

describe('--init refusals, in one line before any work', { timeout: 120_000 }, () => {
  const graph = join(ROOT, 'training_model.onnx');
  it('no --init for a graph whose parameters are inputs', () => {
    expect(refusedLine(runCli(['rewrite', graph, '--out', join(dir, 'r1')]))).toMatch(/takes its parameters as inputs .* pass their initial weights with --init FILE/);
  });
  it('a nominal checkpoint (names, no values)', () => {
    expect(refusedLine(runCli(['rewrite', graph, '--init', join(ROOT, 'nominal_checkpoint'), '--out', join(dir, 'r2')]))).toMatch(/nominal checkpoint/);
  });
  it("another model's checkpoint: names or shapes that do not fit", () => {
    const line = refusedLine(runCli(['rewrite', graph, '--init', join(ROOT, 'frozen_checkpoint'), '--out', join(dir, 'r3')]));
    expect(line).toMatch(/'fc[12]\.(weight|bias)' has shape \[[0-9, ]+\], the graph's input is \[[0-9, ]+\]/);
  });
  it('a file that is no weights file', () => {
    expect(refusedLine(runCli(['rewrite', graph, '--init', join(ROOT, 'input-0.in'), '--out', join(dir, 'r4')]))).toMatch(/not a weights file lion-onnx reads/);
  });
  it('a com.microsoft op without a lowering is named at rewrite time', () => {
    const g = new Graph();
    g.inputs.push({ name: 'x' });
    g.outputs.push({ name: 'y' });
    g.nodes.push({ opType: 'QuantizeLinearGrad', domain: 'com.microsoft', inputs: ['x'], outputs: ['y'], attributes: [], name: 'q' });
    const m = model(g, 14);
    m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
    const file = join(dir, 'unknown-op.onnx');
    saveModel(m, file);
    expect(refusedLine(runCli(['rewrite', file, '--out', join(dir, 'r5')]))).toMatch(/uses com\.microsoft:QuantizeLinearGrad \(1×\), which lion-onnx cannot lower/);
  });
});

describe("the checkpoint reader on ORT's other checkpoints", () => {
  it('reads frozen parameters apart from trainable ones', () => {
    const ck = decodeOrtCheckpoint(readFileSync(join(ROOT, 'frozen_checkpoint')), 'frozen_checkpoint');
    expect(ck.trainable.map((t) => `${t.name} [${t.dims}]`)).toEqual(['fc2.bias [5]', 'fc2.weight [5,20]']);
    expect(ck.frozen.map((t) => `${t.name} [${t.dims}]`)).toEqual(['fc1.bias [20]', 'fc1.weight [20,10]']);
  });
});
