/**
 * Parameter discovery's rule on its edge cases (issue 12): every float tensor of rank >= 1 that
 * reaches the loss through differentiable ops is trained, whatever its name; scalars,
 * BatchNormalization running statistics, tensors holding an infinity, tensors only shapes or
 * conditions read, and what --params leaves out or --frozen picks are not — each with its reason.
 * Constant-node weights count for converters' models, not for torch's (whose Constants are
 * literals).
 */
import { describe, expect, it } from 'vitest';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { makeAttribute } from '../../src/ir/attributes.js';
import { tensorType } from '../../src/ir/value-type.js';
import { runBuild } from '../../src/passes/pipeline.js';
import { model, normals, rng } from '../helpers/graphs.js';

const F = DataType.FLOAT;
const r = rng(5);

/** x [B, 4] -> Mul(w) -> Add(mask) -> BatchNormalization -> Mul(scalar) -> y; plus a tensor only a Where's condition reads, and an unused one. */
function edgeModel(producer = 'hand-written'): Model {
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, ['B', 4]) });
  g.outputs.push({ name: 'y', type: tensorType(F, ['B', 4]) });
  const t = (name: string, dims: number[], values?: number[]) => g.initializers.push(makeTensor(name, F, dims, values ?? normals(r, dims.reduce((a, b) => a * b, 1))));
  t('w', [4, 4]);
  t('onnx::Mul_7', [4]);
  t('scale', [], [0.5]);
  t('mask', [4], [0, 0, -Infinity, 0]);
  t('bn.weight', [4]);
  t('bn.bias', [4]);
  t('bn.running_mean', [4], [0, 0, 0, 0]);
  t('bn.running_var', [4], [1, 1, 1, 1]);
  t('gate', [4]);
  t('unused', [3]);
  g.initializers.push(makeTensor('steps', DataType.INT64, [1], [3]));
  const n = (opType: string, inputs: string[], outputs: string[], attrs: ReturnType<typeof makeAttribute>[] = []) => g.nodes.push({ opType, inputs, outputs, attributes: attrs, name: `/${outputs[0]}/${opType}` });
  n('MatMul', ['x', 'w'], ['h1']);
  n('Mul', ['h1', 'onnx::Mul_7'], ['h2']);
  n('Add', ['h2', 'mask'], ['h3']);
  n('BatchNormalization', ['h3', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'], ['h4']);
  n('Greater', ['gate', 'bn.bias'], ['keep']);
  n('Where', ['keep', 'h4', 'h3'], ['h5']);
  n('Mul', ['h5', 'scale'], ['y']);
  const m = model(g, 17);
  m.producerName = producer;
  return m;
}

function plans(m: Model, opts: Record<string, unknown> = {}) {
  const run = runBuild(m, { loss: 'mse', ...opts }, { until: 'differentiate', ctx: { check: true } });
  return Object.fromEntries(run.models.differentiate!.program!.parameters!.map((p) => [p.name, p.trainable ? 'trained' : p.reason]));
}

describe('discover-parameters', () => {
  it('trains every float tensor of rank >= 1 on the loss path, whatever its name; says why for the others', () => {
    expect(plans(edgeModel())).toEqual({
      w: 'trained',
      'onnx::Mul_7': 'trained',
      scale: 'a scalar (a constant)',
      mask: 'holds NaN or an infinity (a mask, not a weight)',
      'bn.weight': 'trained',
      'bn.bias': 'trained',
      'bn.running_mean': 'BatchNormalization running statistics (not trained by gradients)',
      'bn.running_var': 'BatchNormalization running statistics (not trained by gradients)',
      gate: 'the loss does not reach it through differentiable ops',
      unused: 'the loss does not reach it through differentiable ops',
    });
  });

  it('--params selects, --frozen leaves out', () => {
    const p = plans(edgeModel(), { params: '^(w|onnx::.*)$', frozen: 'onnx::' });
    expect(p.w).toBe('trained');
    expect(p['onnx::Mul_7']).toBe('matches --frozen');
    expect(p['bn.weight']).toBe('does not match --params');
  });

  it("Constant-node weights are parameters of a converter's model, not of a torch export", () => {
    const withConstant = (producer: string) => {
      const m = edgeModel(producer);
      const w = m.graph.initializers.find((x) => x.name === 'w')!;
      m.graph.initializers = m.graph.initializers.filter((x) => x !== w);
      m.graph.nodes.unshift({ opType: 'Constant', inputs: [], outputs: ['w'], attributes: [makeAttribute('value', { ...w, name: '' })], name: 'const_w' });
      return m;
    };
    expect(plans(withConstant('paddle2onnx')).w).toBe('trained');
    expect(plans(withConstant('pytorch')).w).toBeUndefined();
  });
});
