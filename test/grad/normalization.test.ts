/**
 * InstanceNormalization and GroupNormalization gradients against finite differences, and the
 * pattern torch 1.13 exports nn.GroupNorm as at opsets 16 and 17 (no GroupNormalization op before
 * 18): Reshape to [N, G, -1], InstanceNormalization with constant ones and zeros, Reshape back to
 * Shape(x), Mul by the weight [C, 1, 1] and Add the bias (scripts checked with torch.onnx.export).
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });

/** torch's GroupNorm(groups, C) at opset 16/17, on inputs [x, weight [C,1,1], bias [C,1,1]]. */
const torchGroupNorm = (groups: number): VjpSpec['build'] => (b, [input, weight, bias], t) => {
  const grouped = b.op('Reshape', [input, b.int64s('shape', [0, groups, -1])]);
  const ones = b.constant('ones', t, [groups], new Array<number>(groups).fill(1));
  const zeros = b.constant('zeros', t, [groups], new Array<number>(groups).fill(0));
  const normalized = b.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { float: 1e-5 } });
  const back = b.op('Reshape', [normalized, b.op('Shape', [input])]);
  return [b.op('Add', [b.op('Mul', [back, weight]), bias])];
};

type Case = [name: string, spec: VjpSpec, tol?: number];

/** ONNX Runtime's InstanceNormalization runs in float32 only; its errors here are about 1e-4. */
const F32 = 2e-3;

const cases: Case[] = [
  ['InstanceNormalization [N,C,H,W]', { op: 'InstanceNormalization', attrs: { epsilon: { float: 1e-3 } }, inputs: [x(2, 3, 3, 4), x(3), x(3)] }, F32],
  ['InstanceNormalization 1-D spatial, dynamic', { op: 'InstanceNormalization', inputs: [x(2, 3, 5), x(3), x(3)], dynamic: true }, F32],
  ['InstanceNormalization 3-D spatial, opset 18', { op: 'InstanceNormalization', inputs: [x(1, 2, 2, 3, 2), x(2), x(2)], opset: 18 }, F32],
  ['torch GroupNorm(2, 4) at opset 16', { build: torchGroupNorm(2), inputs: [x(2, 4, 3, 3), x(4, 1, 1), x(4, 1, 1)], opset: 16 }, F32],
  ['torch GroupNorm(3, 6) at opset 17, dynamic', { build: torchGroupNorm(3), inputs: [x(2, 6, 2, 3), x(6, 1, 1), x(6, 1, 1)], dynamic: true }, F32],
  // Opset 18: scale and bias per group.
  ['GroupNormalization opset 18, per-group scale', { op: 'GroupNormalization', attrs: { num_groups: 2 }, inputs: [x(2, 4, 3, 2), x(2), x(2)], opset: 18 }],
  ['GroupNormalization opset 18, dynamic', { op: 'GroupNormalization', attrs: { num_groups: 3, epsilon: { float: 1e-3 } }, inputs: [x(2, 6, 4), x(3), x(3)], opset: 18, dynamic: true }],
  // Opset 21: per channel, statistics in stash_type (set to the checker's type: float32 stats would swamp a float64 check).
  ['GroupNormalization opset 21, per-channel scale', { op: 'GroupNormalization', attrs: (t) => ({ num_groups: 2, stash_type: t }), inputs: [x(2, 4, 3, 2), x(4), x(4)], opset: 21 }],
];

describe('normalization gradients against finite differences', () => {
  for (const [name, spec, tol] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, tol === undefined ? {} : { tol });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
    });
});
