/** Lion behind the Optimizer interface; the update itself is in lion.ts. */
import { HYPER_INPUTS, LION_DEFAULTS } from './hyperparameters.js';
import { emitLionScalars, emitLionUpdate, type LionScalars } from './lion.js';
import type { Optimizer } from './optimizer.js';

export const lion: Optimizer = {
  name: 'lion',
  slots: ['lion_m'],
  inputs: { ...HYPER_INPUTS },
  perStep: ['lr'],
  defaults: { ...LION_DEFAULTS },
  emitShared: (b, elemType) => emitLionScalars(b, elemType),
  emitUpdate: (b, shared, n, decay) =>
    emitLionUpdate(b, shared as LionScalars, { param: n.param, grad: n.grad, momentum: n.state[0], paramOut: n.paramOut, momentumOut: n.stateOut[0] }, decay),
};
