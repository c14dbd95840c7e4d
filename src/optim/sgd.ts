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
import type { Optimizer, UpdateEmitter } from './types.js';

const IN = { lr: 'sgd.lr', momentum: 'sgd.momentum', weightDecay: 'sgd.weight_decay' } as const;

function prepare(b: GraphBuilder, elemType: number): UpdateEmitter {
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  const momentum = cast(IN.momentum, 'sgd.momentum_c');
  const weightDecay = cast(IN.weightDecay, 'sgd.weight_decay_c');
  const negLr = cast(b.op('Neg', [IN.lr]), 'sgd.neg_lr');
  return (n, decay) => {
    const p = n.param;
    const g = decay ? b.op('Add', [n.grad, b.op('Mul', [p, weightDecay])], {}, `${p}.sgd_g`) : n.grad;
    const buf = b.add('Add', [b.op('Mul', [n.state[0], momentum]), g], {}, { exact: [n.stateOut[0]] })[0];
    b.add('Add', [p, b.op('Mul', [buf, negLr], {}, `${p}.sgd_step`)], {}, { exact: [n.paramOut] });
  };
}

export const sgd: Optimizer = {
  name: 'sgd',
  describe: 'SGD with momentum (torch.optim.SGD, coupled weight decay), a baseline',
  slots: ['sgd_m'],
  hyperparameters: [
    { key: 'lr', flag: '--lr', input: IN.lr, perStep: 'lr', describe: 'learning rate (from the schedule)' },
    { key: 'momentum', flag: '--momentum', input: IN.momentum, default: 0.9, range: { min: 0, max: 1, maxOpen: true }, describe: 'momentum factor' },
    { key: 'weightDecay', flag: '--weight-decay', input: IN.weightDecay, default: 0, range: { min: 0, max: Infinity, maxOpen: true }, describe: 'coupled weight decay (L2)' },
  ],
  prepare,
  // buf' = momentum·buf + g: a non-finite g stays in it.
  nonFiniteStaysIn: 0,
};
