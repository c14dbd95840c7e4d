/** Shape rules: ops that make tensors from attributes or scalars (Constant, ConstantOfShape, Range). */
import type { ShapeRule } from './types.js';
import { attrFloat, attrInt, attrInts, attrTensor } from '../attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { tensorToNumbers } from '../../onnx/tensor.js';
import type { Dim } from '../value-type.js';
import { MAX_TRACKED, INT_TYPES, product, tensorFacts } from './facts.js';

export const constantRule: ShapeRule = {
  ops: ['Constant'],
  infer: (c) => {
    const { out, node: n } = c;
    const t = attrTensor(n, 'value');
    if (t) out(0, tensorFacts(t));
    else if (attrInts(n, 'value_ints')) out(0, { shape: [attrInts(n, 'value_ints')!.length], elemType: DataType.INT64, value: attrInts(n, 'value_ints') });
    else if (attrInt(n, 'value_int') !== undefined) out(0, { shape: [], elemType: DataType.INT64, value: [attrInt(n, 'value_int')!] });
    else if (attrFloat(n, 'value_float') !== undefined) out(0, { shape: [], elemType: DataType.FLOAT });
  },
};

export const constantOfShapeRule: ShapeRule = {
  ops: ['ConstantOfShape'],
  infer: (c) => {
    const { S, V, out, node: n } = c;
    const t = attrTensor(n, 'value');
    const elemType = t?.dataType ?? DataType.FLOAT;
    const dims = V(0);
    const s0 = S(0);
    const shape = dims ?? (s0 && typeof s0[0] === 'number' && s0[0] <= MAX_TRACKED ? new Array<Dim>(s0[0]).fill(null) : undefined);
    const fill = t && INT_TYPES.has(elemType) ? tensorToNumbers(t)[0] : undefined;
    out(0, { shape, elemType, value: dims && fill !== undefined && product(dims) <= MAX_TRACKED ? new Array(product(dims)).fill(fill) : undefined });
  },
};

export const rangeRule: ShapeRule = {
  ops: ['Range'],
  infer: (c) => {
    const { T, V, out } = c;
    const [a, l, d] = [V(0), V(1), V(2)];
    if (a && l && d && d[0] !== 0) {
      const len = Math.max(0, Math.ceil((l[0] - a[0]) / d[0]));
      // Counted, not listed, when large: Range(0, 10^12, 1) is a few bytes of model.
      out(0, { shape: [Number.isSafeInteger(len) ? len : null], elemType: T(0), value: len <= MAX_TRACKED ? Array.from({ length: len }, (_, i) => a[0] + i * d[0]) : undefined });
    } else out(0, { shape: [null], elemType: T(0) });
  },
};
