/** Gradients of ops that pass values through: Identity, Dropout (inference mode), Cast between float types. */
import { GraphError } from '../../errors.js';
import { elemTypeOrThrow } from '../emit.js';
import type { GradRule } from '../types.js';

export const identityGrad: GradRule = {
  opType: 'Identity',
  backward: (ctx) => [ctx.GO(0)],
};

/**
 * Models exported for inference (torch's model.eval()) carry Dropout as an identity. A Dropout
 * told to run in training mode would need its mask; lion-onnx trains without dropout.
 */
export const dropoutGrad: GradRule = {
  opType: 'Dropout',
  backward: (ctx) => {
    const mode = ctx.I(2);
    if (mode && ctx.value(mode)?.[0] !== 0)
      throw new GraphError(`Dropout node '${ctx.node.name ?? ctx.O(0)}' runs in training mode; export the model in inference mode (torch: model.eval()) or remove the training_mode input`);
    return [ctx.GO(0), null, null];
  },
};

/** A cast between float types: the gradient is cast back to the input's type. */
export const castGrad: GradRule = {
  opType: 'Cast',
  backward: (ctx) => [ctx.b.op('Cast', [ctx.GO(0)!], { to: elemTypeOrThrow(ctx, ctx.I(0), 'the gradient of Cast') })],
};
