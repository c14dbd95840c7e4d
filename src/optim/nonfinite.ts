/**
 * Non-finite gradients, handled on purpose (DESIGN.md: Sign maps NaN to NaN in fp32 but to 0 in
 * fp16, so an accident would either poison or silently freeze parameters). In `skip` and `error`
 * modes the step graph sums every gradient (one reduction per gradient: the sum is NaN or ±Inf
 * when any element is), and when the total is not finite every parameter and momentum keeps
 * its old value — like mixed-precision training's found-inf skip. The flag is an output; the
 * runtime counts skipped steps (`skip`) or stops with an error (`error`). `propagate` emits no
 * check at all. insert-optimizer emits the skip as one If around all the updates (guard.ts).
 */
import { DataType } from '../onnx/data-types.js';
import type { GraphBuilder } from '../ir/builder.js';

export type { NonFiniteMode } from '../ir/program.js';

/** Not 'lion.…': every optimizer's step has it. */
export const NONFINITE_OUTPUT = 'optimizer.nonfinite';

/** Emits the flag: true when any of `grads` holds a NaN or an infinity. */
export function emitNonFiniteFlag(b: GraphBuilder, grads: string[]): string {
  const sums = grads.map((g) => b.op('Cast', [b.op('ReduceSum', [g], { keepdims: 0 }, `${g}.sum`)], { to: DataType.DOUBLE }, `${g}.sum_d`));
  const total = sums.length === 1 ? sums[0] : b.op('Sum', sums, {}, 'optimizer.grad_sum');
  const [flag] = b.add('Or', [b.op('IsNaN', [total], {}, 'optimizer.grad_sum_nan'), b.op('IsInf', [total], {}, 'optimizer.grad_sum_inf')], {}, { exact: [NONFINITE_OUTPUT] });
  return flag;
}
