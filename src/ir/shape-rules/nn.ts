/** Shape rules: convolution and pooling windows. */
import type { ShapeRule } from './types.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import { DataType } from '../../onnx/data-types.js';
import type { Dim } from '../value-type.js';

export const slidingWindowRule: ShapeRule = {
  ops: ['Conv', 'MaxPool', 'AveragePool', 'LpPool'],
  infer: (c) => {
    const { S, T, out, node: n, op } = c;
    const s = S(0);
    if (!s) return out(0, { elemType: T(0) });
    const w = op === 'Conv' ? S(1) : undefined;
    const kernel = attrInts(n, 'kernel_shape') ?? w?.slice(2);
    const spatial = s.length - 2;
    const channels = op === 'Conv' ? (w?.[0] ?? null) : s[1];
    if (!kernel || kernel.some((k) => typeof k !== 'number')) return out(0, { shape: [s[0], channels, ...new Array<Dim>(spatial).fill(null)], elemType: T(0) });
    const strides = attrInts(n, 'strides') ?? new Array(spatial).fill(1);
    const dil = attrInts(n, 'dilations') ?? new Array(spatial).fill(1);
    const pads = attrInts(n, 'pads') ?? new Array(2 * spatial).fill(0);
    const autoPad = attrString(n, 'auto_pad', 'NOTSET');
    const ceil = attrInt(n, 'ceil_mode', 0);
    const dims = s.slice(2).map((d, i) => {
      if (typeof d !== 'number') return null;
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(d / strides[i]);
      const k = (dil[i] * ((kernel[i] as number) - 1)) + 1;
      const p = autoPad === 'VALID' ? 0 : pads[i] + pads[i + spatial];
      const r = (d + p - k) / strides[i];
      let n = (ceil ? Math.ceil(r) : Math.floor(r)) + 1;
      // With ceil_mode the last window must start inside the input or its left padding.
      if (ceil && (n - 1) * strides[i] >= d + (autoPad === 'VALID' ? 0 : pads[i])) n--;
      return n;
    });
    out(0, { shape: [s[0], channels, ...dims], elemType: T(0) });
    if (op === 'MaxPool') out(1, { shape: [s[0], channels, ...dims], elemType: DataType.INT64 });
  },
};

export const globalPoolRule: ShapeRule = {
  ops: ['GlobalAveragePool', 'GlobalMaxPool'],
  infer: (c) => {
    const { S, T, out } = c;
    const s = S(0);
    out(0, { shape: s ? [s[0], s[1], ...s.slice(2).map(() => 1)] : undefined, elemType: T(0) });
  },
};

/** out = stride·(in − 1) + output_padding + dilation·(k − 1) + 1 − pads (or output_shape); channels W[1]·group. */
export const convTransposeRule: ShapeRule = {
  ops: ['ConvTranspose'],
  infer: (c) => {
    const { S, T, out, node: n } = c;
    const s = S(0);
    const w = S(1);
    if (!s) return out(0, { elemType: T(0) });
    const spatial = s.length - 2;
    const group = attrInt(n, 'group', 1);
    const channels = typeof w?.[1] === 'number' ? w[1] * group : null;
    const kernel = attrInts(n, 'kernel_shape') ?? w?.slice(2);
    const given = attrInts(n, 'output_shape');
    const autoPad = attrString(n, 'auto_pad', 'NOTSET');
    const strides = attrInts(n, 'strides') ?? new Array<number>(spatial).fill(1);
    const dims = s.slice(2).map((d, i): Dim => {
      if (given) return given[given.length - spatial + i];
      const k = kernel?.[i];
      if (typeof d !== 'number' || typeof k !== 'number') return null;
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d * strides[i];
      const dil = attrInts(n, 'dilations')?.[i] ?? 1;
      const op = attrInts(n, 'output_padding')?.[i] ?? 0;
      const pads = autoPad === 'VALID' ? [0, 0] : [attrInts(n, 'pads')?.[i] ?? 0, attrInts(n, 'pads')?.[i + spatial] ?? 0];
      return strides[i] * (d - 1) + op + dil * (k - 1) + 1 - pads[0] - pads[1];
    });
    out(0, { shape: [s[0], channels, ...dims], elemType: T(0) });
  },
};

/** GroupNormalization keeps its input's shape (InstanceNormalization is listed with the element-wise ops). */
export const groupNormalizationRule: ShapeRule = {
  ops: ['GroupNormalization'],
  infer: (c) => c.same(),
};

/**
 * Resize (opset 11+): sizes when known, else floor(in · scale) computed as the runtime does, in
 * float32 (7 · 0.7f is 7 there, 6.99… in float64). Only the listed axes with opset 18's axes.
 */
export const resizeRule: ShapeRule = {
  ops: ['Resize'],
  infer: (c) => {
    const { S, T, P, F, out, node: n, opset } = c;
    const s = S(0);
    if (!s || opset < 11) return out(0, { elemType: T(0) });
    const axes = (attrInts(n, 'axes') ?? s.map((_, a) => a)).map((a) => (a < 0 ? a + s.length : a));
    const sizes = n.inputs[3] ? P(3) : undefined;
    const scales = n.inputs[2] ? F(2) : undefined;
    const stretch = attrString(n, 'keep_aspect_ratio_policy', 'stretch') === 'stretch';
    const dims: Dim[] = [...s];
    axes.forEach((a, j) => {
      const d = s[a];
      if (n.inputs[3]) dims[a] = sizes && stretch ? sizes[j] : null;
      else if (scales?.length) dims[a] = typeof d === 'number' ? Math.floor(Math.fround(Math.fround(d) * Math.fround(scales[j]))) : scales[j] === 1 ? d : null;
      else dims[a] = null;
    });
    out(0, { shape: dims, elemType: T(0) });
  },
};
