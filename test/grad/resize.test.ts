/**
 * Resize's gradient against finite differences (float32: ONNX Runtime's CPU Resize has no float64
 * kernel; the map is linear in X, so the differences are exact up to rounding). The attribute
 * sets exporters emit: torch's nn.Upsample / F.interpolate (nearest: asymmetric + floor; bilinear:
 * half_pixel, or align_corners with sizes), paddle's (half_pixel / align_corners linear), and the
 * other coordinate transforms and nearest modes; scales or sizes, known at build time or fed.
 */
import { describe, expect, it } from 'vitest';
import type { AttrInput } from '../../src/ir/attributes.js';
import { ShapeInfo } from '../../src/ir/shape-info.js';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
const scales = (values: number[], fed = false): InputSpec => ({ shape: [values.length], values, grad: false, constant: !fed });
/** ONNX Runtime's shape inference reads a fed sizes input of symbolic length as empty: its length stays declared. */
const sizes = (values: number[], fed = false): InputSpec => ({ shape: [values.length], type: 'int64', values, constant: !fed, dynamic: false });
const empty: InputSpec = { shape: [0], values: [], grad: false, constant: true };
const F32_LINEAR = 1e-3;

const resize = (attrs: Record<string, AttrInput>, input: InputSpec, by: { scales?: InputSpec; sizes?: InputSpec }, extra: Partial<VjpSpec> = {}): VjpSpec => ({
  op: 'Resize',
  attrs,
  inputs: by.sizes ? [input, null, null, by.sizes] : [input, null, by.scales!],
  dtype: 'float32',
  ...extra,
});
const nearest = (ctm: string, nm: string) => ({ mode: 'nearest', coordinate_transformation_mode: ctm, nearest_mode: nm });
const linear = (ctm: string) => ({ mode: 'linear', coordinate_transformation_mode: ctm });

type Case = [name: string, spec: VjpSpec];

const cases: Case[] = [
  ['nearest asymmetric floor x2 (torch nn.Upsample)', resize(nearest('asymmetric', 'floor'), x(2, 2, 3, 4), { scales: scales([1, 1, 2, 2]) })],
  ['nearest half_pixel round_prefer_floor x[1.5,2]', resize(nearest('half_pixel', 'round_prefer_floor'), x(1, 2, 3, 3), { scales: scales([1, 1, 1.5, 2]) })],
  ['nearest align_corners round_prefer_ceil, sizes', resize(nearest('align_corners', 'round_prefer_ceil'), x(2, 1, 3, 4), { sizes: sizes([2, 1, 5, 7]) })],
  ['nearest pytorch_half_pixel ceil, downscale', resize(nearest('pytorch_half_pixel', 'ceil'), x(1, 2, 6, 5), { scales: scales([1, 1, 0.5, 0.6]) })],
  ['nearest asymmetric floor 1-D, dynamic', resize(nearest('asymmetric', 'floor'), x(2, 3, 4), { scales: scales([1, 1, 3]) }, { dynamic: true })],
  ['nearest half_pixel, sizes fed at run time', resize(nearest('half_pixel', 'round_prefer_floor'), x(1, 2, 3, 4), { sizes: sizes([1, 2, 5, 6], true) }, { dynamic: true })],
  ['linear half_pixel x2 (torch bilinear, paddle)', resize(linear('half_pixel'), x(2, 2, 3, 4), { scales: scales([1, 1, 2, 2]) })],
  ['linear align_corners, sizes (torch align_corners=True, paddle)', resize(linear('align_corners'), x(1, 2, 3, 4), { sizes: sizes([1, 2, 5, 7]) })],
  ['linear pytorch_half_pixel downscale to 1 column', resize(linear('pytorch_half_pixel'), x(1, 2, 6, 3), { sizes: sizes([1, 2, 4, 1]) })],
  ['linear asymmetric x[3,1.5]', resize(linear('asymmetric'), x(2, 1, 3, 4), { scales: scales([1, 1, 3, 1.5]) })],
  ['linear half_pixel, dynamic', resize(linear('half_pixel'), x(2, 2, 3, 3), { scales: scales([1, 1, 2, 1.5]) }, { dynamic: true })],
  ['linear align_corners, sizes fed, dynamic', resize(linear('align_corners'), x(1, 2, 3, 4), { sizes: sizes([1, 2, 4, 6], true) }, { dynamic: true })],
  ['linear half_pixel, scales fed', resize(linear('half_pixel'), x(1, 2, 3, 4), { scales: scales([1, 1, 2, 0.5], true) })],
  ['linear 1-D half_pixel (3-D input)', resize(linear('half_pixel'), x(2, 3, 5), { scales: scales([1, 1, 2]) })],
  ['cubic half_pixel x2 (torch bicubic)', resize({ mode: 'cubic', coordinate_transformation_mode: 'half_pixel', cubic_coeff_a: { float: -0.75 } }, x(1, 2, 4, 4), { scales: scales([1, 1, 2, 2]) })],
  ['linear opset 18 axes [2,3], antialias downscale', resize({ ...linear('half_pixel'), axes: [2, 3], antialias: 1 }, x(1, 2, 6, 6), { scales: scales([0.5, 0.7]) }, { opset: 18 })],
  ['nearest opset 18 axes [-1]', resize({ ...nearest('asymmetric', 'floor'), axes: [-1] }, x(1, 2, 3, 3), { scales: scales([2]) }, { opset: 18 })],
  [
    'linear opset 11 (roi and empty scales, sizes)',
    { op: 'Resize', attrs: linear('align_corners'), inputs: [x(1, 2, 3, 3), empty, empty, sizes([1, 2, 5, 4])], dtype: 'float32', opset: 11 },
  ],
];

describe('Resize gradient against finite differences', () => {
  for (const [name, spec] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, { tol: F32_LINEAR });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      // The shape rule's static output shape is the runtime's (the checker's R is shaped like Y).
      const g = r.model.graph;
      const y = g.nodes.find((n) => n.opType === 'Resize')!.outputs[0];
      const inferred = new ShapeInfo(g, spec.opset ?? 17).shape(y)!;
      const actual = g.initializers.find((t) => t.name.startsWith('r0'))!.dims;
      expect(inferred.map((d, i) => (typeof d === 'number' ? d : actual[i]))).toEqual(actual);
      if (!spec.dynamic && spec.inputs.every((i) => !i || i.constant !== false)) expect(inferred).toEqual(actual);
    });
});

/** torch's F.interpolate(x, size=(h, w)): sizes = Concat(Shape(x)[0:2], [h, w]). */
const torchSized = (h: number, w: number, ctm: string): VjpSpec['build'] => (b, [input]) => {
  const batchAndChannels = b.op('Slice', [b.op('Shape', [input]), b.int64s('start', [0]), b.int64s('end', [2]), b.int64s('axes', [0])]);
  const sized = b.op('Concat', [batchAndChannels, b.int64s('hw', [h, w])], { axis: 0 });
  return [b.op('Resize', [input, '', '', sized], linear(ctm))];
};

describe('Resize gradient: sizes made from Shape(x)', () => {
  it('with symbolic batch and channels, only the spatial axes get a map (one identity and its Resize each)', async () => {
    const r = await checkVjp({ build: torchSized(5, 7, 'align_corners'), inputs: [x(2, 3, 3, 4)], dtype: 'float32', dynamic: true }, { tol: F32_LINEAR });
    expect(r.maxGrad).toBeGreaterThan(1e-3);
    expect(r.model.graph.nodes.filter((n) => n.opType === 'Resize').length).toBe(3);
    expect(r.model.graph.nodes.filter((n) => n.opType === 'EyeLike').length).toBe(2);
  });
});

describe('Resize gradient: refusals', () => {
  it('nearest below opset 16 says which opset it needs', async () => {
    await expect(checkVjp(resize(nearest('asymmetric', 'floor'), x(1, 1, 2, 2), { scales: scales([1, 1, 2, 2]) }, { opset: 13 }))).rejects.toThrow(/opset 16/);
  });
  it('tf_crop_and_resize is refused in one line', async () => {
    await expect(checkVjp(resize(linear('tf_crop_and_resize'), x(1, 1, 2, 2), { scales: scales([1, 1, 2, 2]) }))).rejects.toThrow(/tf_crop_and_resize/);
  });
});
