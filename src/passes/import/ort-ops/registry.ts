/** Every lowering of an ONNX Runtime training or contrib op, by domain and op type. */
import { biasFastGeluGrad, biasGelu, biasGeluGrad, fastGelu, fastGeluGrad, geluForward, geluGrad, reluGrad, sigmoidGrad, tanhGrad } from './activations.js';
import { atenLowering } from './aten.js';
import { softmaxCrossEntropyLossGrad, softmaxCrossEntropyLossInternal, softmaxCrossEntropyLossInternalGrad } from './cross-entropy.js';
import { fusedMatMulLowering, transposeMatMulLowering } from './fused-matmul.js';
import { layerNormalizationGrad } from './layer-norm-grad.js';
import { broadcastGradientArgs, concatTraining, gatherGrad, sliceGrad, splitTraining } from './shape-grads.js';
import { logSoftmaxGrad13, logSoftmaxGradV1, softmaxGrad13, softmaxGradV1 } from './softmax-grads.js';
import type { OrtLowering } from './types.js';

const LOWERINGS: OrtLowering[] = [
  reluGrad,
  sigmoidGrad,
  tanhGrad,
  geluForward,
  biasGelu,
  geluGrad,
  biasGeluGrad,
  fastGelu,
  fastGeluGrad,
  biasFastGeluGrad,
  softmaxGrad13,
  softmaxGradV1,
  logSoftmaxGrad13,
  logSoftmaxGradV1,
  softmaxCrossEntropyLossGrad,
  softmaxCrossEntropyLossInternal,
  softmaxCrossEntropyLossInternalGrad,
  layerNormalizationGrad,
  broadcastGradientArgs,
  sliceGrad,
  concatTraining,
  splitTraining,
  gatherGrad,
  fusedMatMulLowering,
  transposeMatMulLowering,
  atenLowering,
];

const BY_KEY = new Map(LOWERINGS.map((l) => [`${l.domain}:${l.opType}`, l]));

export function ortLowering(domain: string, opType: string): OrtLowering | undefined {
  return BY_KEY.get(`${domain}:${opType}`);
}

/** "com.microsoft: ReluGrad, ...", for messages. */
export function loweredOps(): string {
  const by = new Map<string, string[]>();
  for (const l of LOWERINGS) by.set(l.domain, [...(by.get(l.domain) ?? []), l.opType]);
  return [...by].map(([d, ops]) => `${d}: ${ops.sort().join(', ')}`).join('; ');
}
