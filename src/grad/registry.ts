/**
 * Every gradient rule, registered from one list (as TensorFlow.js's register_all_gradients.ts),
 * and the ops through which no gradient flows.
 */
import { addGrad, divGrad, maxGrad, meanGrad, minGrad, mulGrad, negGrad, powGrad, subGrad, sumGrad, whereGrad } from './rules/arithmetic.js';
import { celuGrad, eluGrad, hardSigmoidGrad, hardSwishGrad, mishGrad, pReluGrad, seluGrad } from './rules/activations.js';
import { convGrad } from './rules/conv.js';
import { convTransposeGrad } from './rules/conv-transpose.js';
import { cumSumGrad } from './rules/cumsum.js';
import { ifGrad } from './rules/control-flow.js';
import { loopGrad } from './rules/loop.js';
import { gruGrad, lstmGrad } from './rules/recurrent.js';
import { scanGrad } from './rules/scan.js';
import { scatterElementsGrad, scatterNDGrad } from './rules/scatter.js';
import { gatherElementsGrad, gatherGrad } from './rules/gather.js';
import { castGrad, dropoutGrad, identityGrad } from './rules/identity.js';
import { gemmGrad, matMulGrad } from './rules/matmul.js';
import { einsumGrad } from './rules/einsum.js';
import { batchNormalizationGrad, groupNormalizationGrad, instanceNormalizationGrad, layerNormalizationGrad } from './rules/normalization.js';
import { concatGrad, sliceGrad, splitGrad } from './rules/pieces.js';
import { padGrad } from './rules/pad.js';
import { resizeGrad } from './rules/resize.js';
import { averagePoolGrad, globalAveragePoolGrad, maxPoolGrad } from './rules/pool.js';
import {
  reduceL1Grad,
  reduceL2Grad,
  reduceLogSumExpGrad,
  reduceLogSumGrad,
  reduceMaxGrad,
  reduceMeanGrad,
  reduceMinGrad,
  reduceProdGrad,
  reduceSumGrad,
  reduceSumSquareGrad,
} from './rules/reduce.js';
import { expandGrad, flattenGrad, reshapeGrad, squeezeGrad, transposeGrad, unsqueezeGrad } from './rules/shape.js';
import { logSoftmaxGrad, softmaxGrad } from './rules/softmax.js';
import { tileGrad } from './rules/tile.js';
import { cosGrad, sinGrad } from './rules/trig.js';
import { triluGrad } from './rules/trilu.js';
import {
  absGrad,
  clipGrad,
  erfGrad,
  expGrad,
  leakyReluGrad,
  logGrad,
  reciprocalGrad,
  reluGrad,
  sigmoidGrad,
  softplusGrad,
  sqrtGrad,
  tanhGrad,
} from './rules/unary.js';
import type { GradRule } from './types.js';

const RULES: GradRule[] = [
  // arithmetic
  addGrad,
  subGrad,
  mulGrad,
  divGrad,
  powGrad,
  negGrad,
  sumGrad,
  meanGrad,
  maxGrad,
  minGrad,
  whereGrad,
  // unary math
  sqrtGrad,
  expGrad,
  logGrad,
  tanhGrad,
  sigmoidGrad,
  reluGrad,
  leakyReluGrad,
  erfGrad,
  absGrad,
  reciprocalGrad,
  softplusGrad,
  clipGrad,
  sinGrad,
  cosGrad,
  // activations
  hardSigmoidGrad,
  hardSwishGrad,
  pReluGrad,
  eluGrad,
  seluGrad,
  celuGrad,
  mishGrad,
  // linear algebra
  matMulGrad,
  gemmGrad,
  einsumGrad,
  // pass-through
  identityGrad,
  dropoutGrad,
  castGrad,
  // rearranging
  reshapeGrad,
  flattenGrad,
  squeezeGrad,
  unsqueezeGrad,
  transposeGrad,
  expandGrad,
  concatGrad,
  splitGrad,
  sliceGrad,
  padGrad,
  gatherGrad,
  gatherElementsGrad,
  scatterNDGrad,
  scatterElementsGrad,
  tileGrad,
  triluGrad,
  // reductions
  reduceSumGrad,
  reduceMeanGrad,
  reduceMaxGrad,
  reduceMinGrad,
  reduceProdGrad,
  reduceL1Grad,
  reduceL2Grad,
  reduceSumSquareGrad,
  reduceLogSumGrad,
  reduceLogSumExpGrad,
  cumSumGrad,
  // neural-network layers
  convGrad,
  convTransposeGrad,
  resizeGrad,
  maxPoolGrad,
  averagePoolGrad,
  globalAveragePoolGrad,
  batchNormalizationGrad,
  layerNormalizationGrad,
  instanceNormalizationGrad,
  groupNormalizationGrad,
  softmaxGrad,
  logSoftmaxGrad,
  lstmGrad,
  gruGrad,
  // control flow
  ifGrad,
  loopGrad,
  scanGrad,
];

const BY_OP = new Map<string, GradRule>();
for (const r of RULES) {
  if (BY_OP.has(r.opType)) throw new Error(`internal: two gradient rules for ${r.opType}`);
  BY_OP.set(r.opType, r);
}

export function gradRule(opType: string): GradRule | undefined {
  return BY_OP.get(opType);
}

export function supportedOps(): string[] {
  return [...BY_OP.keys()].sort();
}

/**
 * Ops through which no gradient flows: shape plumbing, comparisons, index producers, and
 * piecewise-constant functions (zero derivative almost everywhere). Integer-typed results stop
 * gradients too, whatever the op (the engine checks element types).
 */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new Set([
  'Shape',
  'Size',
  'Constant',
  'ConstantOfShape',
  'Range',
  'EyeLike',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
  'NonZero',
  'ArgMax',
  'ArgMin',
  'OneHot',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Bernoulli',
  'Multinomial',
]);
