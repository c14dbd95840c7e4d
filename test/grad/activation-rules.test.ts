/**
 * Activation and trigonometric gradients against finite differences, one line per case.
 * Random inputs span ±4 so both sides of every kink (HardSigmoid's and HardSwish's at ±3,
 * the elu family's at 0) are exercised; the kinks themselves are checked against torch in
 * kinks.test.ts, since central differences there give the average of the two sides.
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
/** Values spread over [-4, 4] in a fixed order, none within 0.05 of a kink at 0 or ±3. */
const wide = (...shape: number[]): InputSpec => {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => -4 + ((i * 7) % n) * (8 / Math.max(1, n - 1)) + 0.013);
  return { shape, values: values.map((v) => (Math.abs(v) < 0.05 || Math.abs(Math.abs(v) - 3) < 0.05 ? v + 0.1 : v)) };
};

type Case = [name: string, spec: VjpSpec, tol?: number];

const cases: Case[] = [
  ['HardSigmoid default alpha beta', { op: 'HardSigmoid', inputs: [wide(3, 5)] }],
  ['HardSigmoid alpha 1/6 beta 0.5 (torch)', { op: 'HardSigmoid', attrs: { alpha: { float: 1 / 6 }, beta: { float: 0.5 } }, inputs: [wide(4, 5)] }],
  ['HardSigmoid alpha 0.5 beta -0.2, dynamic', { op: 'HardSigmoid', attrs: { alpha: { float: 0.5 }, beta: { float: -0.2 } }, inputs: [wide(3, 5)], dynamic: true }],
  ['HardSwish', { op: 'HardSwish', inputs: [wide(4, 5)], opset: 14 }],
  ['PRelu slope per channel [C,1,1]', { op: 'PRelu', inputs: [x(2, 3, 2, 2), x(3, 1, 1)] }],
  ['PRelu scalar-like slope [1]', { op: 'PRelu', inputs: [x(3, 4), x(1)] }],
  ['PRelu slope same shape', { op: 'PRelu', inputs: [x(2, 3), x(2, 3)] }],
  ['PRelu slope [C,1,1] dynamic', { op: 'PRelu', inputs: [x(2, 3, 2, 2), x(3, 1, 1)], dynamic: true }],
  ['Elu default alpha', { op: 'Elu', inputs: [wide(3, 4)] }],
  ['Elu alpha 0.5', { op: 'Elu', attrs: { alpha: { float: 0.5 } }, inputs: [wide(3, 4)] }],
  ['Selu default alpha gamma', { op: 'Selu', inputs: [wide(3, 4)] }],
  ['Selu alpha 2 gamma 0.5', { op: 'Selu', attrs: { alpha: { float: 2 }, gamma: { float: 0.5 } }, inputs: [wide(3, 4)] }],
  ['Celu default alpha', { op: 'Celu', inputs: [wide(3, 4)] }],
  ['Celu alpha 2', { op: 'Celu', attrs: { alpha: { float: 2 } }, inputs: [wide(3, 4)] }],
  ['Mish', { op: 'Mish', inputs: [wide(3, 4)], opset: 18 }],
  ['Sin', { op: 'Sin', inputs: [wide(3, 4)] }],
  ['Cos', { op: 'Cos', inputs: [wide(3, 4)] }],
  ['Cos dynamic', { op: 'Cos', inputs: [x(2, 3)], dynamic: true }],
  // The existing rules this family sits beside, over a wider range.
  ['Abs', { op: 'Abs', inputs: [wide(3, 4)] }],
  ['Softplus', { op: 'Softplus', inputs: [wide(3, 4)] }],
  ['LeakyRelu', { op: 'LeakyRelu', inputs: [wide(3, 4)] }],
];

/** Ops onnxruntime's CPU provider runs in float32 only: their checks fall back to float32 (Mish at opset 18 runs in float64). */
const NO_FLOAT64_KERNEL = new Set(['HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'Softplus']);

describe('activation and trig gradients against finite differences', () => {
  for (const [name, spec, tol] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, tol === undefined ? {} : { tol });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      expect(r.dtype).toBe(NO_FLOAT64_KERNEL.has(spec.op ?? '') ? 'float32' : 'float64');
    });
});
