/** Shape rules: element-wise ops (same shape, broadcasting, comparisons, casts). */
import type { ShapeRule, ValueFacts } from './types.js';
import { attrInt } from '../attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { INT_TYPES, broadcastShapes, intArith } from './facts.js';
import type { Dim } from '../value-type.js';

export const sameShapeRule: ShapeRule = {
  ops: ['Identity', 'Neg', 'Abs', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Erf', 'Reciprocal', 'Softplus', 'Elu', 'Gelu', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Sign', 'Softmax', 'LogSoftmax', 'Clip', 'HardSigmoid', 'HardSwish', 'Selu', 'Celu', 'Mish', 'LRN', 'CumSum', 'Trilu', 'InstanceNormalization', 'BatchNormalization', 'LayerNormalization'],
  infer: (c) => {
    const { V, P, out, same, op } = c;
    same();
    if (op === 'LayerNormalization' && (c.node.outputs[1] || c.node.outputs[2])) {
      // Mean and InvStdDev: the input's shape with the normalized axes 1, in stash_type (float).
      const s = c.S(0);
      const a0 = attrInt(c.node, 'axis', -1);
      const axis = s && a0 < 0 ? a0 + s.length : a0;
      const stat = { shape: s?.map((d, i) => (i < axis ? d : 1)), elemType: attrInt(c.node, 'stash_type', 1) };
      out(1, stat);
      out(2, { ...stat });
    }
    if (op === 'Identity') out(0, { partial: P(0) });
    else if (op === 'Neg' || op === 'Abs') {
      const v = V(0);
      if (v) out(0, { value: op === 'Neg' ? v.map((x) => -x) : v.map(Math.abs) });
    }
  },
};

export const dropoutRule: ShapeRule = {
  ops: ['Dropout'],
  infer: (c) => {
    const { S, out, same } = c;
    same();
    out(1, { shape: S(0), elemType: DataType.BOOL });
  },
};

export const boolSameShapeRule: ShapeRule = {
  ops: ['IsNaN', 'IsInf', 'Not'],
  infer: (c) => {
    const { V, out, same, op } = c;
    same(DataType.BOOL);
    const v = V(0);
    if (op === 'Not' && v) out(0, { value: v.map((x) => +!x) });
  },
};

export const broadcastRule: ShapeRule = {
  ops: ['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'PRelu'],
  infer: (c) => {
    const { S, T, V, out, node: n, op } = c;
    const shapes = n.inputs.map((_, i) => S(i));
    const facts: ValueFacts = { shape: broadcastShapes(shapes), elemType: T(0) };
    const vals = n.inputs.map((_, i) => V(i));
    if (n.inputs.length === 2 && vals[0] && vals[1]) facts.value = intArith(op, vals[0], vals[1]);
    out(0, facts);
  },
};

export const comparisonRule: ShapeRule = {
  ops: ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'],
  infer: (c) => {
    const { S, V, out, op } = c;
    const [a, b] = [V(0), V(1)];
    out(0, { shape: broadcastShapes([S(0), S(1)]), elemType: DataType.BOOL, value: a && b ? intArith(op, a, b) : undefined });
  },
};

export const whereRule: ShapeRule = {
  ops: ['Where'],
  infer: (c) => {
    const { S, T, out } = c;
    out(0, { shape: broadcastShapes([S(0), S(1), S(2)]), elemType: T(1) ?? T(2) });
  },
};

export const castRule: ShapeRule = {
  ops: ['Cast'],
  infer: (c) => {
    const { S, P, out, node: n } = c;
    const to = attrInt(n, 'to', 0);
    const v = P(0);
    // To bool, any nonzero is true (silero's If conditions are Cast<bool>(Shape(h)[0])); an
    // unknown dim could be 0.
    const cast = (x: Dim) => (typeof x !== 'number' ? (to === DataType.BOOL ? null : x) : to === DataType.BOOL ? +(x !== 0) : Math.trunc(x));
    out(0, { shape: S(0), elemType: to, partial: v && INT_TYPES.has(to) ? v.map(cast) : undefined });
  },
};

export const castLikeRule: ShapeRule = {
  ops: ['CastLike'],
  infer: (c) => {
    const { S, T, out } = c;
    out(0, { shape: S(0), elemType: T(1) });
  },
};
