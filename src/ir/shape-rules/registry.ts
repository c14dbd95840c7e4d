/**
 * Every shape rule, registered from one list (as the gradient rules are): op type -> the rule
 * that infers its outputs' types, shapes and (small integer) values.
 */
import type { ShapeRule } from './types.js';
import { sameShapeRule, dropoutRule, boolSameShapeRule, broadcastRule, comparisonRule, whereRule, castRule, castLikeRule } from './elementwise.js';
import { shapeOfRule, sizeRule, unsqueezeRule, squeezeRule, concatRule, reshapeRule, flattenRule, transposeRule, expandRule, tileRule, padRule, splitRule, sliceRule } from './shape-ops.js';
import { constantRule, constantOfShapeRule, rangeRule } from './constants.js';
import { gatherRule, gatherElementsRule, scatterRule, oneHotRule, nonZeroRule, argMaxMinRule } from './indexing.js';
import { matMulRule, gemmRule, einsumRule } from './linalg.js';
import { reduceRule } from './reduce.js';
import { slidingWindowRule, globalPoolRule, convTransposeRule, groupNormalizationRule, resizeRule } from './nn.js';
import { lossRule } from './losses.js';
import { ifRule, loopRule, scanRule, recurrentRule } from './control.js';

const RULES: ShapeRule[] = [
  lossRule,
  sameShapeRule,
  dropoutRule,
  boolSameShapeRule,
  broadcastRule,
  comparisonRule,
  whereRule,
  castRule,
  castLikeRule,
  shapeOfRule,
  sizeRule,
  unsqueezeRule,
  squeezeRule,
  concatRule,
  reshapeRule,
  flattenRule,
  transposeRule,
  expandRule,
  tileRule,
  padRule,
  splitRule,
  sliceRule,
  constantRule,
  constantOfShapeRule,
  rangeRule,
  gatherRule,
  gatherElementsRule,
  scatterRule,
  oneHotRule,
  nonZeroRule,
  argMaxMinRule,
  matMulRule,
  gemmRule,
  einsumRule,
  reduceRule,
  slidingWindowRule,
  globalPoolRule,
  convTransposeRule,
  groupNormalizationRule,
  resizeRule,
  ifRule,
  loopRule,
  scanRule,
  recurrentRule,
];

const BY_OP = new Map<string, ShapeRule>();
for (const r of RULES)
  for (const op of r.ops) {
    if (BY_OP.has(op)) throw new Error(`internal: two shape rules for ${op}`);
    BY_OP.set(op, r);
  }

export function shapeRule(opType: string): ShapeRule | undefined {
  return BY_OP.get(opType);
}
