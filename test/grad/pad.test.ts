/**
 * Pad's gradient against finite differences (float64): constant, reflect and edge modes, pads
 * known at build time or fed at run time, negative pads (crops), the axes input (opset 18).
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
/** Pads as a constant (known at build time) or as a fed graph input (only run time knows them). */
const pads = (values: number[], fed = false): InputSpec => ({ shape: [values.length], type: 'int64', values, constant: !fed });
const ints = (values: number[]): InputSpec => ({ shape: [values.length], type: 'int64', values });

type Case = [name: string, spec: VjpSpec];

const cases: Case[] = [
  ['constant, pads and value checked', { op: 'Pad', inputs: [x(2, 2, 3, 4), pads([0, 0, 1, 2, 0, 0, 2, 1]), x()] }],
  ['constant, default value 0', { op: 'Pad', inputs: [x(2, 3, 4), pads([0, 1, 0, 1, 2, 3])] }],
  ['constant, negative pads crop', { op: 'Pad', inputs: [x(2, 5, 6), pads([0, -1, 2, 0, 1, -2]), x()] }],
  ['constant, pads fed at run time', { op: 'Pad', inputs: [x(2, 3, 4), pads([1, 0, -1, 0, 2, 1], true), x()] }],
  ['constant, dynamic shapes', { op: 'Pad', inputs: [x(2, 2, 3, 3), pads([0, 0, 1, 1, 0, 0, 1, 1]), x()], dynamic: true }],
  ['constant, opset 18 axes input', { op: 'Pad', inputs: [x(2, 3, 4), pads([1, -1, 2, 1]), x(), ints([2, 1])], opset: 18 }],
  ['constant, opset 11', { op: 'Pad', inputs: [x(3, 4), pads([1, 0, 0, 2]), x()], opset: 11 }],
  ['reflect on H and W (torch ReflectionPad2d)', { op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x(2, 2, 4, 5), pads([0, 0, 1, 2, 0, 0, 3, 1])] }],
  ['reflect 1-D, pads as wide as the input allows', { op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x(2, 3, 4), pads([0, 0, 3, 0, 0, 3])] }],
  ['reflect with a crop on another axis', { op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x(2, 5, 4), pads([0, -1, 2, 0, -2, 1])] }],
  ['reflect, pads fed at run time, dynamic shapes', { op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x(1, 2, 4, 4), pads([0, 0, 2, 1, 0, 0, 1, 2], true)], dynamic: true }],
  ['edge on H and W (torch ReplicationPad2d)', { op: 'Pad', attrs: { mode: 'edge' }, inputs: [x(2, 2, 3, 4), pads([0, 0, 2, 1, 0, 0, 3, 4])] }],
  ['edge, pads wider than the input, dynamic', { op: 'Pad', attrs: { mode: 'edge' }, inputs: [x(2, 2, 3), pads([0, 0, 5, 0, 0, 4])], dynamic: true }],
  ['edge, opset 18 axes input', { op: 'Pad', attrs: { mode: 'edge' }, inputs: [x(2, 3, 4), pads([2, 0, 1, 3]), null, ints([-1, 1])], opset: 18 }],
];

describe('Pad gradient against finite differences', () => {
  for (const [name, spec] of cases)
    it(name, async () => {
      const r = await checkVjp(spec);
      expect(r.dtype).toBe('float64');
      expect(r.maxGrad).toBeGreaterThan(1e-3);
    });
});

describe('Pad gradient: refusals', () => {
  it('reflect below opset 16 says which opset it needs', async () => {
    await expect(checkVjp({ op: 'Pad', attrs: { mode: 'reflect' }, inputs: [x(2, 4), pads([0, 1, 0, 1])], opset: 15 })).rejects.toThrow(/opset 16/);
  });
  it('wrap mode is refused in one line', async () => {
    await expect(checkVjp({ op: 'Pad', attrs: { mode: 'wrap' }, inputs: [x(2, 4), pads([0, 1, 0, 1])], opset: 19 })).rejects.toThrow(/mode 'wrap'/);
  });
});
