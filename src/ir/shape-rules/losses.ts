/** Shape rules: SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss (a scalar, or per position with reduction none). */
import { attrString } from '../attributes.js';
import type { ShapeRule } from './types.js';

export const lossRule: ShapeRule = {
  ops: ['SoftmaxCrossEntropyLoss', 'NegativeLogLikelihoodLoss'],
  infer: (c) => {
    const { S, T, out, node: n } = c;
    const none = attrString(n, 'reduction', 'mean') === 'none';
    out(0, { shape: none ? S(1) : [], elemType: T(0) });
    // SoftmaxCrossEntropyLoss's optional log_prob: the scores' shape.
    if (n.opType === 'SoftmaxCrossEntropyLoss' && n.outputs[1]) out(1, { shape: S(0), elemType: T(0) });
  },
};
