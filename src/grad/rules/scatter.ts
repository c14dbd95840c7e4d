/**
 * Gradients of ScatterND and ScatterElements. With reduction 'none' the written positions of
 * data are overwritten, so dData is g with those positions zeroed (the same scatter, of zeros,
 * into g) and dUpdates is g read back at them (GatherND / GatherElements). With 'add' data
 * passes through untouched: dData = g. ONNX leaves repeated indices under 'none' undefined, so
 * they are not supported; 'mul', 'max' and 'min' have no rule yet.
 */
import { GraphError } from '../../errors.js';
import { attrInt, attrString } from '../../ir/attributes.js';
import { ifNeeded, zerosLike } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';

function scatterGrad(opType: 'ScatterND' | 'ScatterElements'): GradRule {
  return {
    opType,
    backward: (ctx: GradContext) => {
      const { b, node } = ctx;
      const [idx, updates] = [ctx.I(1), ctx.I(2)];
      const g = ctx.GO(0)!;
      const reduction = attrString(node, 'reduction', 'none');
      if (reduction !== 'none' && reduction !== 'add')
        throw new GraphError(`no gradient for ${opType} node '${node.name ?? node.outputs[0]}' with reduction='${reduction}' (only 'none' and 'add' have one); rewrite the model without it or keep the parameter frozen`);
      const attrs: Record<string, number> = opType === 'ScatterElements' ? { axis: attrInt(node, 'axis', 0) } : {};
      return [
        ifNeeded(ctx, 0, () => (reduction === 'add' ? g : b.op(opType, [g, idx, zerosLike(ctx, updates)], attrs))),
        null,
        ifNeeded(ctx, 2, () => b.op(opType === 'ScatterND' ? 'GatherND' : 'GatherElements', [g, idx], attrs)),
      ];
    },
  };
}

export const scatterNDGrad = scatterGrad('ScatterND');
export const scatterElementsGrad = scatterGrad('ScatterElements');
