/**
 * org.pytorch.aten::ATen, the torch operators ORTModule exports as themselves (only in ORT builds
 * with ATen; _custom_gradient_registry.py emits embedding_backward):
 *
 *   embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse) = weight[indices]
 *   embedding_backward(grad, indices, num_weights, padding_idx, scale_grad_by_freq, sparse):
 *     dW = zeros[num_weights, D]; dW[indices[j]] += grad[j] / (count of indices[j] if
 *     scale_grad_by_freq) for every j whose index is not padding_idx (padding_idx < 0: none).
 *
 * Any other ATen operator is named and refused.
 */
import { GraphError } from '../../../errors.js';
import { attrString } from '../../../ir/attributes.js';
import { DataType } from '../../../onnx/data-types.js';
import { int64s, scalarLike, unsqueeze } from '../../../grad/emit.js';
import { zeros } from './shape-grads.js';
import type { OrtLowering } from './types.js';

export const atenLowering: OrtLowering = {
  domain: 'org.pytorch.aten',
  opType: 'ATen',
  minInputs: 1,
  lower: (c) => {
    const { b } = c;
    const op = attrString(c.node, 'operator', '');
    if (op === 'embedding') return [b.op('Gather', [c.I(0), c.I(1)], { axis: 0 })];
    if (op !== 'embedding_backward') throw new GraphError(`${c.where}: ATen operator '${op}' has no lowering to standard ONNX; lion-onnx lowers embedding and embedding_backward`);
    const [grad, indices, numWeights, paddingIdx, byFreq] = [0, 1, 2, 3, 4].map((i) => c.I(i));
    if (!numWeights) throw new GraphError(`${c.where}: embedding_backward without num_weights`);
    const idx64 = b.op('Cast', [indices], { to: DataType.INT64 });
    const idx = unsqueeze(c, idx64, [-1]);
    // num_weights may come as a scalar (Gather(Shape(weight), 0)) or a 1-element vector.
    const rows = b.op('Reshape', [b.op('Cast', [numWeights], { to: DataType.INT64 }), int64s(c, [-1])]);
    const rowShape = b.op('Concat', [rows, b.op('Gather', [b.op('Shape', [grad]), int64s(c, [-1])], { axis: 0 })], { axis: 0 });
    let g = grad;
    if (paddingIdx) {
      const isPad = b.op('Equal', [idx64, b.op('Cast', [paddingIdx], { to: DataType.INT64 })]);
      g = b.op('Where', [unsqueeze(c, isPad, [-1]), scalarLike(c, grad, 0), g]);
    }
    if (byFreq) {
      const ones = b.op('Cast', [b.op('ConstantOfShape', [b.op('Shape', [idx64])], { value: { name: '', dataType: DataType.INT64, dims: [1], data: new BigInt64Array([1n]) } })], { to: c.elemType(grad)! });
      const counts = b.op('ScatterND', [zeros(c, rows, grad), idx, ones], { reduction: 'add' });
      const divisor = b.op('Where', [b.op('Cast', [byFreq], { to: DataType.BOOL }), b.op('GatherND', [counts, idx]), ones]);
      g = b.op('Div', [g, unsqueeze(c, divisor, [-1])]);
    }
    return [b.op('ScatterND', [zeros(c, rowShape, grad), idx, g], { reduction: 'add' })];
  },
};
