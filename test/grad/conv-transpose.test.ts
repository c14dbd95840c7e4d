/**
 * ConvTranspose's gradient against finite differences: X, W and B checked (float32: ONNX Runtime's
 * CPU ConvTranspose has no float64 kernel), the forms torch's ConvTranspose exports (strides,
 * pads, output_padding, dilations, groups), static and dynamic shapes.
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
/** float32 lines of a linear op. */
const F32_LINEAR = 1e-3;

type Case = [name: string, spec: VjpSpec];

const cases: Case[] = [
  ['stride 1, bias', { op: 'ConvTranspose', inputs: [x(2, 3, 4, 4), x(3, 2, 3, 3), x(2)] }],
  ['stride 2 pad 1 output_padding 1 (torch upsampling)', { op: 'ConvTranspose', attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, inputs: [x(2, 3, 3, 4), x(3, 2, 3, 3), x(2)] }],
  ['strides [2,3], asymmetric pads', { op: 'ConvTranspose', attrs: { strides: [2, 3], pads: [0, 1, 2, 0] }, inputs: [x(1, 2, 3, 3), x(2, 3, 3, 3)] }],
  ['dilation 2, stride 2', { op: 'ConvTranspose', attrs: { strides: [2, 2], dilations: [2, 2], pads: [1, 0, 1, 1] }, inputs: [x(1, 2, 4, 3), x(2, 2, 2, 3), x(2)] }],
  ['group 2, stride 2, output_padding [1,0]', { op: 'ConvTranspose', attrs: { group: 2, strides: [2, 2], output_padding: [1, 0] }, inputs: [x(2, 4, 3, 3), x(4, 3, 3, 2), x(6)] }],
  ['kernel 4 stride 2 pad 1 (DCGAN)', { op: 'ConvTranspose', attrs: { kernel_shape: [4, 4], strides: [2, 2], pads: [1, 1, 1, 1] }, inputs: [x(2, 2, 3, 3), x(2, 3, 4, 4), x(3)] }],
  ['1-D stride 3', { op: 'ConvTranspose', attrs: { strides: [3], pads: [1, 0], output_padding: [2] }, inputs: [x(2, 3, 5), x(3, 2, 4), x(2)] }],
  ['3-D stride 2', { op: 'ConvTranspose', attrs: { strides: [2, 2, 2], pads: [1, 0, 0, 0, 1, 0] }, inputs: [x(1, 2, 2, 3, 2), x(2, 2, 2, 2, 2)] }],
  ['auto_pad VALID stride 2', { op: 'ConvTranspose', attrs: { auto_pad: 'VALID', strides: [2, 2] }, inputs: [x(1, 2, 3, 3), x(2, 2, 2, 3)] }],
  // Dynamic lines declare every dim symbolic, W's too: kernel_shape gives the kernel size.
  [
    'dynamic, stride 2 pad 1 output_padding 1',
    { op: 'ConvTranspose', attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, inputs: [x(2, 2, 3, 4), x(2, 3, 3, 3), x(3)], dynamic: true },
  ],
  ['dynamic, group 2 dilation [1,2]', { op: 'ConvTranspose', attrs: { kernel_shape: [2, 2], group: 2, dilations: [1, 2] }, inputs: [x(1, 4, 3, 3), x(4, 1, 2, 2), x(2)], dynamic: true }],
];

describe('ConvTranspose gradient against finite differences', () => {
  for (const [name, spec] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, { tol: F32_LINEAR });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
    });
});

describe('ConvTranspose gradient: refusals', () => {
  it('auto_pad SAME_UPPER asks for explicit pads', async () => {
    await expect(checkVjp({ op: 'ConvTranspose', attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, inputs: [x(1, 2, 3, 3), x(2, 2, 3, 3)] }, { tol: F32_LINEAR })).rejects.toThrow(/explicit pads/);
  });
  it('output_shape is refused in one line', async () => {
    await expect(checkVjp({ op: 'ConvTranspose', attrs: { strides: [2, 2], output_shape: [6, 6] }, inputs: [x(1, 2, 3, 3), x(2, 2, 3, 3)] }, { tol: F32_LINEAR })).rejects.toThrow(/output_shape/);
  });
});
