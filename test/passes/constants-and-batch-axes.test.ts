/**
 * Inputs that are not batched (issue 13): `build --constant sr=16000` fixes an input that is not
 * data (silero VAD's sample rate) as an initializer; `build --batch-axis h=1` trains a data
 * input whose batch is on axis 1 (silero's state h: [2, batch, 64]) from arrays in the model's
 * own layout. Checked against the same model written batch-first by hand and fed transposed
 * arrays: the losses are identical; the export keeps the model's layout, without the constant.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { makeAttribute } from '../../src/ir/attributes.js';
import { tensorType } from '../../src/ir/value-type.js';
import { saveModel } from '../../src/ir/model-io.js';
import { writeNpy } from '../../src/data/npy.js';
import { toBatchFirst } from '../../src/data/batch-axis.js';
import { model, normals, rng } from '../helpers/graphs.js';
import { refusedLine, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const F = DataType.FLOAT;
const dir = tempDir('lion-onnx-inputs-');
const N = 12;

/** y = (x·W + Σ_layers h)·sr/16000, h [2, B, 3] (or [B, 2, 3] when batchFirst, transposed inside). */
function stateful(batchFirst: boolean): Model {
  const r = rng(2);
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, ['B', 4]) });
  g.inputs.push({ name: 'h', type: tensorType(F, batchFirst ? ['B', 2, 3] : [2, 'B', 3]) });
  g.inputs.push({ name: 'sr', type: tensorType(DataType.INT64, []) });
  g.outputs.push({ name: 'y', type: tensorType(F, ['B', 3]) });
  g.initializers.push(makeTensor('w', F, [4, 3], normals(r, 12)), makeTensor('axes', DataType.INT64, [1], [0]), makeTensor('rate', F, [], [16000]));
  const n = (opType: string, inputs: string[], outputs: string[], attrs: ReturnType<typeof makeAttribute>[] = []) => g.nodes.push({ opType, inputs, outputs, attributes: attrs, name: outputs[0] });
  if (batchFirst) n('Transpose', ['h'], ['h_layers'], [makeAttribute('perm', [1, 0, 2])]);
  n('ReduceSum', [batchFirst ? 'h_layers' : 'h', 'axes'], ['hs'], [makeAttribute('keepdims', 0)]);
  n('MatMul', ['x', 'w'], ['xw']);
  n('Add', ['xw', 'hs'], ['z']);
  n('Cast', ['sr'], ['srf'], [makeAttribute('to', F)]);
  n('Div', ['srf', 'rate'], ['s']);
  n('Mul', ['z', 's'], ['y']);
  return model(g, 17);
}

const r = rng(5);
const x = makeTensor('x', F, [N, 4], normals(r, N * 4));
const hModel = makeTensor('h', F, [2, N, 3], normals(r, 2 * N * 3));
const t = makeTensor('target', F, [N, 3], normals(r, N * 3));
for (const [name, v] of [['x', x], ['h', hModel], ['t', t], ['h_first', toBatchFirst(hModel, 1, 'h')]] as const) writeNpy(join(dir, `${name}.npy`), v);

function buildAndTrain(m: Model, name: string, buildArgs: string[], hFile: string) {
  saveModel(m, join(dir, `${name}.onnx`));
  const art = join(dir, name);
  const b = runCli(['build', join(dir, `${name}.onnx`), '--loss', 'mse', '--out', art, ...buildArgs]);
  expect(b.code, b.stderr).toBe(0);
  const log = join(dir, `${name}.jsonl`);
  const tr = runCli(['train', art, '--data', `x=${join(dir, 'x.npy')}`, '--data', `h=${join(dir, hFile)}`, '--data', `target=${join(dir, 't.npy')}`, '--batch-size', '4', '--steps', '6', '--lr', '1e-2', '--log', log, '--export', join(dir, `${name}.trained.onnx`)]);
  expect(tr.code, tr.stderr).toBe(0);
  return { build: b.stdout, losses: readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number) };
}

describe('--constant and --batch-axis', { timeout: 120_000 }, () => {
  it('a state batched on axis 1 and a fixed sample rate train as the batch-first model fed transposed arrays', () => {
    const a = buildAndTrain(stateful(false), 'model-layout', ['--constant', 'sr=16000', '--batch-axis', 'h=1'], 'h.npy');
    expect(a.build).toContain('constants: sr (fixed by --constant');
    expect(a.build).toContain('batch axes: h on axis 1');
    expect(a.build).toMatch(/data inputs x, h(,|\n| )/);
    const b = buildAndTrain(stateful(true), 'batch-first', ['--constant', 'sr=16000'], 'h_first.npy');
    expect(a.losses).toHaveLength(6);
    expect(a.losses).toEqual(b.losses);
    expect(a.losses.at(-1)!).toBeLessThan(a.losses[0]);
  });

  it("the export keeps h in the model's layout and has sr built in", async () => {
    const s = await ort.InferenceSession.create(join(dir, 'model-layout.trained.onnx'));
    expect(s.inputNames).toEqual(['x', 'h']);
    const out = await s.run({ x: new ort.Tensor('float32', (x.data as Float32Array).slice(0, 8), [2, 4]), h: new ort.Tensor('float32', new Float32Array(12), [2, 2, 3]) });
    expect(out.y.dims).toEqual([2, 3]);
    await s.release();
  });

  it('refuses, in one line: an unknown input, a fraction for an integer input, an axis out of range', () => {
    saveModel(stateful(false), join(dir, 'bad.onnx'));
    const build = (...args: string[]) => runCli(['build', join(dir, 'bad.onnx'), '--loss', 'mse', '--out', join(dir, 'bad'), ...args]);
    expect(refusedLine(build('--constant', 'rate_hz=16000'))).toMatch(/--constant rate_hz: the model has no input of that name; its inputs are x, h, sr/);
    expect(refusedLine(build('--constant', 'sr=8000.5'))).toMatch(/--constant sr: the input is int64, so the value must be whole/);
    expect(refusedLine(build('--constant', 'sr=16000', '--batch-axis', 'h=3'))).toMatch(/--batch-axis h=3: the input has 3 axes \(0 to 2\)/);
    expect(refusedLine(build('--constant', 'sr=fast'))).toMatch(/--constant sr=fast: give a number, a JSON list like \[1,2\] or an \.npy file/);
  });
});
