/**
 * SGD with momentum (torch.optim.SGD: dampening 0, no Nesterov, coupled weight decay):
 *
 *   g'   = g + wd·p
 *   buf' = μ·buf + g'
 *   p'   = p − lr·buf'
 *
 * A baseline with one state tensor per parameter, like Lion.
 */
import type { GraphBuilder } from '../ir/builder.js';
import type { Optimizer } from './optimizer.js';

const IN = { lr: 'sgd.lr', momentum: 'sgd.momentum', weightDecay: 'sgd.weight_decay' } as const;

interface Shared {
  momentum: string;
  weightDecay: string;
  negLr: string;
}

function emitShared(b: GraphBuilder, elemType: number): Shared {
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  return {
    momentum: cast(IN.momentum, 'sgd.momentum_c'),
    weightDecay: cast(IN.weightDecay, 'sgd.weight_decay_c'),
    negLr: cast(b.op('Neg', [IN.lr]), 'sgd.neg_lr'),
  };
}

export const sgd: Optimizer = {
  name: 'sgd',
  slots: ['sgd_m'],
  inputs: { ...IN },
  perStep: ['lr'],
  defaults: { momentum: 0.9, weightDecay: 0 },
  emitShared,
  emitUpdate: (b, shared, n, decay) => {
    const s = shared as Shared;
    const p = n.param;
    const g = decay ? b.op('Add', [n.grad, b.op('Mul', [p, s.weightDecay])], {}, `${p}.sgd_g`) : n.grad;
    const buf = b.add('Add', [b.op('Mul', [n.state[0], s.momentum]), g], {}, { exact: [n.stateOut[0]] })[0];
    b.add('Add', [p, b.op('Mul', [buf, s.negLr], {}, `${p}.sgd_step`)], {}, { exact: [n.paramOut] });
  },
};
