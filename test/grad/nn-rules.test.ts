/**
 * Conv, pooling, normalization and softmax gradients against finite differences, one line per
 * case. Conv, ConvTranspose, AveragePool and GlobalAveragePool have no float64 kernels in ONNX
 * Runtime's CPU EP, so those lines run in float32; the rest run in float64. Conv and the average
 * pools are linear, so their float32 finite differences are exact up to rounding (~1e-5 here)
 * and the tolerance is 1e-3 rather than the checker's float32 default.
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
/** Distinct values 0.1 apart in a scrambled order: no two in a pooling window are within a finite-difference step. */
const spread = (...shape: number[]): InputSpec => {
  const n = shape.reduce((a, b) => a * b, 1);
  const stride = [37, 41, 43, 47].find((p) => n % p !== 0)!;
  return { shape, values: Array.from({ length: n }, (_, i) => ((i * stride) % n) / 10 - n / 20) };
};
/** A per-channel running statistic: fed as a constant, never differentiated. */
const stat = (c: number, range: [number, number]): InputSpec => ({ shape: [c], range, constant: true, grad: false });

/** float32 lines of linear ops (Conv, AveragePool, GlobalAveragePool). */
const F32_LINEAR = 1e-3;

type Case = [name: string, spec: VjpSpec, tol?: number];

const cases: Case[] = [
  // Conv (float32): X, W and B all checked.
  ['Conv stride 2 pad 1, bias', { op: 'Conv', attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [x(2, 2, 5, 5), x(3, 2, 3, 3), x(3)] }, F32_LINEAR],
  ['Conv dilation 2', { op: 'Conv', attrs: { dilations: [2, 2] }, inputs: [x(1, 2, 6, 6), x(2, 2, 3, 3), x(2)] }, F32_LINEAR],
  ['Conv group 2, asymmetric pads', { op: 'Conv', attrs: { group: 2, pads: [1, 0, 0, 1] }, inputs: [x(2, 4, 5, 5), x(6, 2, 3, 3), x(6)] }, F32_LINEAR],
  ['Conv auto_pad SAME_UPPER stride 2', { op: 'Conv', attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, inputs: [x(1, 2, 6, 5), x(2, 2, 3, 3), x(2)] }, F32_LINEAR],
  ['Conv auto_pad SAME_LOWER stride 2, kernel 2', { op: 'Conv', attrs: { auto_pad: 'SAME_LOWER', strides: [2, 2] }, inputs: [x(1, 2, 5, 6), x(2, 2, 2, 2)] }, F32_LINEAR],
  ['Conv auto_pad VALID', { op: 'Conv', attrs: { auto_pad: 'VALID', strides: [2, 1] }, inputs: [x(1, 2, 6, 4), x(2, 2, 3, 3)] }, F32_LINEAR],
  // (8 - 3) % 2 = 1 and (8 - 3) % 3 = 2: the last input rows/columns are never read.
  ['Conv strides [2,3] not dividing the input, no bias', { op: 'Conv', attrs: { strides: [2, 3] }, inputs: [x(1, 2, 8, 8), x(3, 2, 3, 3)] }, F32_LINEAR],
  [
    'Conv group 2, stride 2, dilation 2, pads, uneven',
    { op: 'Conv', attrs: { group: 2, strides: [2, 2], dilations: [2, 2], pads: [1, 2, 0, 1] }, inputs: [x(2, 4, 8, 7), x(4, 2, 2, 3), x(4)] },
    F32_LINEAR,
  ],
  ['Conv 1-D stride 2 pads [0,1]', { op: 'Conv', attrs: { strides: [2], pads: [0, 1] }, inputs: [x(2, 3, 9), x(4, 3, 2), x(4)] }, F32_LINEAR],
  ['Conv 3-D stride 2', { op: 'Conv', attrs: { strides: [2, 2, 2], pads: [1, 0, 0, 0, 1, 0] }, inputs: [x(1, 2, 4, 5, 4), x(2, 2, 2, 2, 2)] }, F32_LINEAR],
  // Stride 1, ungrouped: dX is a Conv with the flipped kernel (conv.ts inputGradByConv).
  ['Conv stride 1 pads 2 (LeNet), bias', { op: 'Conv', attrs: { pads: [2, 2, 2, 2] }, inputs: [x(2, 3, 6, 6), x(4, 3, 5, 5), x(4)] }, F32_LINEAR],
  ['Conv stride 1, asymmetric pads, dilations [2,1]', { op: 'Conv', attrs: { pads: [1, 0, 2, 1], dilations: [2, 1] }, inputs: [x(1, 2, 7, 6), x(3, 2, 3, 2)] }, F32_LINEAR],
  ['Conv stride 1, pads wider than the kernel (ConvTranspose)', { op: 'Conv', attrs: { pads: [3, 0, 0, 3] }, inputs: [x(1, 2, 4, 4), x(2, 2, 2, 2)] }, F32_LINEAR],
  ['Conv 1-D stride 1 SAME_UPPER, even kernel', { op: 'Conv', attrs: { auto_pad: 'SAME_UPPER' }, inputs: [x(2, 2, 7), x(3, 2, 4), x(3)] }, F32_LINEAR],
  ['Conv 3-D stride 1 pads', { op: 'Conv', attrs: { pads: [1, 1, 0, 1, 1, 1] }, inputs: [x(1, 2, 4, 4, 3), x(2, 2, 3, 3, 2)] }, F32_LINEAR],
  ['Conv dynamic, stride 1 pads [1,2,2,1]', { op: 'Conv', attrs: { kernel_shape: [3, 3], pads: [1, 2, 2, 1] }, inputs: [x(2, 2, 5, 6), x(3, 2, 3, 3), x(3)], dynamic: true }, F32_LINEAR],
  ['Conv dynamic, stride 1 SAME_UPPER (ConvTranspose)', { op: 'Conv', attrs: { kernel_shape: [3, 2], auto_pad: 'SAME_UPPER' }, inputs: [x(1, 2, 5, 6), x(2, 2, 3, 2)], dynamic: true }, F32_LINEAR],
  // Dynamic lines declare every dim symbolic, W's too: kernel_shape (which exporters write) gives the kernel size.
  ['Conv dynamic, stride 2 uneven, pad 1', { op: 'Conv', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [x(2, 2, 6, 7), x(3, 2, 3, 3), x(3)], dynamic: true }, F32_LINEAR],
  // No end pad to absorb the unread last row/column: dX must grow by output_padding.
  ['Conv dynamic, stride 2 uneven, begin pads only', { op: 'Conv', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 0, 0] }, inputs: [x(1, 2, 7, 8), x(2, 2, 3, 3)], dynamic: true }, F32_LINEAR],
  ['Conv dynamic, SAME_LOWER stride 2', { op: 'Conv', attrs: { kernel_shape: [3, 3], auto_pad: 'SAME_LOWER', strides: [2, 2] }, inputs: [x(1, 2, 6, 5), x(2, 2, 3, 3)], dynamic: true }, F32_LINEAR],
  ['Conv dynamic, group 2 dilation 2', { op: 'Conv', attrs: { kernel_shape: [2, 2], group: 2, dilations: [2, 1] }, inputs: [x(2, 4, 6, 5), x(4, 2, 2, 2), x(4)], dynamic: true }, F32_LINEAR],

  // MaxPool (float64).
  ['MaxPool 2x2 stride 2', { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, inputs: [x(2, 2, 4, 4)] }],
  // Disjoint windows in float32 take MaxUnpool; values 0.1 apart so the ±1e-2 steps never swap a window's maximum.
  ['MaxPool float32 2x2 stride 2 (MaxUnpool)', { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, inputs: [spread(2, 2, 4, 4)], dtype: 'float32' }],
  ['MaxPool float32 2x2 stride 2 pads 1, odd size (MaxUnpool)', { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 0, 1] }, inputs: [spread(2, 3, 5, 5)], dtype: 'float32' }],
  ['MaxPool float32 dilation 2 stride 3, ceil_mode (MaxUnpool)', { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [3, 3], dilations: [2, 2], ceil_mode: 1 }, inputs: [spread(1, 2, 7, 8)], dtype: 'float32' }],
  ['MaxPool float32 1-D SAME_UPPER, dynamic (MaxUnpool)', { op: 'MaxPool', attrs: { kernel_shape: [2], strides: [2], auto_pad: 'SAME_UPPER' }, inputs: [spread(2, 3, 7)], dtype: 'float32', dynamic: true }],
  ['MaxPool 3x3 stride 1 pad 1 (overlapping)', { op: 'MaxPool', attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, inputs: [x(1, 2, 5, 5)] }],
  ['MaxPool with Indices output', { op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [2, 2] }, inputs: [x(2, 2, 5, 5)], outputs: 2, lossOutputs: [0] }],
  [
    'MaxPool dilation 2, ceil_mode, storage_order 1',
    { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2], dilations: [2, 2], ceil_mode: 1, storage_order: 1 }, inputs: [x(1, 2, 6, 7)], outputs: 2, lossOutputs: [0] },
  ],
  ['MaxPool 1-D SAME_UPPER stride 2', { op: 'MaxPool', attrs: { kernel_shape: [3], strides: [2], auto_pad: 'SAME_UPPER' }, inputs: [x(2, 3, 7)] }],
  ['MaxPool opset 13, disjoint windows', { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 3] }, inputs: [x(1, 2, 4, 6)], opset: 13 }],
  ['MaxPool dynamic 3x3 stride 2 pad 1', { op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [x(2, 2, 5, 6)], dynamic: true }],

  // AveragePool (float32).
  ['AveragePool 2x2 stride 2', { op: 'AveragePool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, inputs: [x(2, 2, 4, 5)] }, F32_LINEAR],
  [
    'AveragePool 3x3 stride 2 pad 1, count_include_pad 1',
    { op: 'AveragePool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, inputs: [x(1, 2, 6, 5)] },
    F32_LINEAR,
  ],
  [
    'AveragePool 3x3 stride 2 pad 1, count_include_pad 0',
    { op: 'AveragePool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [x(1, 2, 6, 5)] },
    F32_LINEAR,
  ],
  ['AveragePool 3x3 stride 1 pad 1 (overlapping, excluded pads)', { op: 'AveragePool', attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, inputs: [x(2, 2, 4, 4)] }, F32_LINEAR],
  ['AveragePool ceil_mode, pad 1', { op: 'AveragePool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, inputs: [x(1, 2, 6, 6)] }, F32_LINEAR],
  // ONNX Runtime drops the last row of windows (it would start in the end padding) while ONNX
  // shape inference keeps it, so static shapes make the forward model itself fail to load.
  [
    'AveragePool ceil_mode, count_include_pad 1, dropped last window, dynamic',
    { op: 'AveragePool', attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1], ceil_mode: 1, count_include_pad: 1 }, inputs: [x(1, 2, 4, 5)], dynamic: true },
    F32_LINEAR,
  ],
  ['AveragePool SAME_UPPER stride 2', { op: 'AveragePool', attrs: { kernel_shape: [3, 2], strides: [2, 2], auto_pad: 'SAME_UPPER' }, inputs: [x(1, 2, 5, 5)] }, F32_LINEAR],
  ['AveragePool opset 19 dilation 2', { op: 'AveragePool', attrs: { kernel_shape: [2, 2], dilations: [2, 2], pads: [1, 1, 0, 0] }, inputs: [x(1, 2, 5, 5)], opset: 19 }, F32_LINEAR],
  ['AveragePool 1-D stride 2 uneven', { op: 'AveragePool', attrs: { kernel_shape: [2], strides: [2] }, inputs: [x(2, 3, 7)] }, F32_LINEAR],
  ['AveragePool 1-D stride 2 uneven, dynamic', { op: 'AveragePool', attrs: { kernel_shape: [2], strides: [2] }, inputs: [x(2, 3, 7)], dynamic: true }, F32_LINEAR],
  [
    'AveragePool dynamic, pad 1, count_include_pad 0',
    { op: 'AveragePool', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [x(2, 2, 5, 6)], dynamic: true },
    F32_LINEAR,
  ],
  [
    'AveragePool dynamic, SAME_LOWER stride 2',
    { op: 'AveragePool', attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_LOWER' }, inputs: [x(1, 2, 6, 5)], dynamic: true },
    F32_LINEAR,
  ],
  ['GlobalAveragePool', { op: 'GlobalAveragePool', inputs: [x(2, 3, 4, 5)] }, F32_LINEAR],
  ['GlobalAveragePool dynamic 1-D', { op: 'GlobalAveragePool', inputs: [x(2, 3, 6)], dynamic: true }, F32_LINEAR],

  // Normalization (float64). Running mean and var are constants; var kept positive.
  [
    'BatchNormalization eval, [N,C,H,W]',
    { op: 'BatchNormalization', attrs: { epsilon: { float: 1e-3 } }, inputs: [x(2, 3, 4, 4), x(3), x(3), stat(3, [-0.5, 0.5]), stat(3, [0.5, 1.5])] },
  ],
  ['BatchNormalization eval, [N,C]', { op: 'BatchNormalization', inputs: [x(4, 3), x(3), x(3), stat(3, [-0.5, 0.5]), stat(3, [0.5, 1.5])], opset: 13 }],
  ['LayerNormalization axis -1 with bias', { op: 'LayerNormalization', inputs: [x(2, 3, 5), x(5), x(5)] }],
  ['LayerNormalization axis -2 without bias', { op: 'LayerNormalization', attrs: { axis: -2, epsilon: { float: 1e-3 } }, inputs: [x(2, 3, 4), x(3, 4)] }],
  ['LayerNormalization axis -2 with bias, dynamic', { op: 'LayerNormalization', attrs: { axis: -2 }, inputs: [x(2, 3, 4), x(3, 4), x(3, 4)], dynamic: true }],
  ['LayerNormalization opset 18 (ReduceMean axes input)', { op: 'LayerNormalization', inputs: [x(3, 4), x(4), x(4)], opset: 18 }],

  // Softmax / LogSoftmax (float64).
  ['Softmax axis -1', { op: 'Softmax', inputs: [x(2, 3, 4)] }],
  ['Softmax axis 1', { op: 'Softmax', attrs: { axis: 1 }, inputs: [x(2, 3, 4)] }],
  ['Softmax opset 11 axis 1 (coerced to 2-D)', { op: 'Softmax', attrs: { axis: 1 }, inputs: [x(2, 3, 4)], opset: 11 }],
  ['LogSoftmax axis -1', { op: 'LogSoftmax', inputs: [x(2, 3, 4)] }],
  ['LogSoftmax axis 1, dynamic', { op: 'LogSoftmax', attrs: { axis: 1 }, inputs: [x(2, 3, 4)], dynamic: true }],
  ['LogSoftmax opset 12 default axis (coerced to 2-D)', { op: 'LogSoftmax', inputs: [x(2, 3, 4)], opset: 12 }],
];

describe('nn gradient rules against finite differences', () => {
  for (const [name, spec, tol] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, tol === undefined ? {} : { tol });
      // A check on an all-zero gradient would pass for a rule that returns zeros.
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      // Only standard ops: ONNX Runtime's training ops do not load in onnxruntime-node.
      expect(r.model.graph.nodes.filter((n) => n.domain && n.domain !== 'ai.onnx').map((n) => n.opType)).toEqual([]);
    });
});

describe('Conv input gradient: which op computes it', () => {
  const opsOf = async (spec: VjpSpec) => (await checkVjp(spec, { tol: F32_LINEAR })).model.graph.nodes.map((n) => n.opType);
  it('stride 1, group 1: a Conv with the flipped kernel, no ConvTranspose', async () => {
    const ops = await opsOf({ op: 'Conv', attrs: { pads: [2, 2, 2, 2] }, inputs: [x(2, 3, 6, 6), x(4, 3, 5, 5)] });
    expect(ops).not.toContain('ConvTranspose');
    expect(ops.filter((o) => o === 'Conv').length).toBe(3); // forward, dW, dX
  });
  it('stride 2, group 2, or pads wider than the kernel: the ConvTranspose', async () => {
    for (const spec of [
      { op: 'Conv', attrs: { strides: [2, 2] }, inputs: [x(1, 2, 5, 5), x(2, 2, 3, 3)] },
      { op: 'Conv', attrs: { group: 2 }, inputs: [x(1, 4, 5, 5), x(4, 2, 3, 3)] },
      { op: 'Conv', attrs: { pads: [3, 0, 0, 3] }, inputs: [x(1, 2, 4, 4), x(2, 2, 2, 2)] },
    ] as VjpSpec[])
      expect(await opsOf(spec)).toContain('ConvTranspose');
  });
});

describe('MaxPool gradient: which op scatters it', () => {
  const opsOf = async (spec: VjpSpec) => (await checkVjp(spec)).model.graph.nodes.map((n) => n.opType);
  it('float32, disjoint windows, static spatial sizes: MaxUnpool', async () => {
    for (const pads of [undefined, [1, 0, 0, 1]]) {
      const ops = await opsOf({ op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2], ...(pads ? { pads } : {}) }, inputs: [spread(2, 3, 5, 5)], dtype: 'float32' });
      expect(ops).toContain('MaxUnpool');
      expect(ops).not.toContain('ScatterElements');
    }
  });
  it('float64, overlapping windows, a ceil_mode window MaxUnpool would refuse, or dynamic sizes: ScatterElements', async () => {
    for (const spec of [
      { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, inputs: [spread(1, 2, 4, 4)], dtype: 'float64' },
      { op: 'MaxPool', attrs: { kernel_shape: [3, 3], strides: [2, 2] }, inputs: [spread(1, 2, 5, 5)], dtype: 'float32' },
      { op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [3, 3], dilations: [2, 2], ceil_mode: 1 }, inputs: [spread(1, 2, 7, 8)], dtype: 'float32' },
      { op: 'MaxPool', attrs: { kernel_shape: [2], strides: [2] }, inputs: [spread(2, 3, 8)], dtype: 'float32', dynamic: true },
    ] as VjpSpec[]) {
      const ops = await opsOf(spec);
      expect(ops).toContain('ScatterElements');
      expect(ops).not.toContain('MaxUnpool');
    }
  });
});

describe('nn gradient rules: refusals', () => {
  it('MaxPool with overlapping windows below opset 16 says which opset it needs', async () => {
    await expect(checkVjp({ op: 'MaxPool', attrs: { kernel_shape: [3, 3] }, inputs: [x(1, 1, 4, 4)], opset: 15 })).rejects.toThrow(/opset 16/);
  });
  it('BatchNormalization in training mode asks for an eval-mode export', async () => {
    const spec: VjpSpec = {
      op: 'BatchNormalization',
      attrs: { training_mode: 1 },
      inputs: [x(2, 3, 2, 2), x(3), x(3), stat(3, [-0.5, 0.5]), stat(3, [0.5, 1.5])],
      lossOutputs: [0],
      outputs: 3,
    };
    await expect(checkVjp(spec)).rejects.toThrow(/eval mode/);
  });
});
