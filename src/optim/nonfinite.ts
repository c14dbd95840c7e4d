/**
 * Non-finite gradients, handled on purpose (DESIGN.md: Sign maps NaN to NaN in fp32 but to 0 in
 * fp16, so an accident would either poison or silently freeze parameters). In `skip` and `error`
 * modes the step graph flags a step when any gradient element is NaN or ±Inf, and then every
 * parameter and momentum keeps its old value — like mixed-precision training's found-inf skip.
 * The flag is an output; the runtime counts skipped steps (`skip`) or stops with an error
 * (`error`). `propagate` emits no check at all. insert-optimizer emits the skip as one If
 * around all the updates (guard.ts).
 *
 * The check sums each gradient (one reduction per gradient: the sum is NaN or ±Inf when any
 * element is). A float32 sum can also overflow with every element finite (|g| ~ 1e35 over 10^4
 * elements); only then, inside an If, the gradients are summed again scaled by 2^-100, which
 * keeps every finite element's sum finite and every NaN and infinity as it is: the flag is
 * exactly "some element is not finite", at the price of one reduction per gradient.
 */
import { DataType } from '../onnx/data-types.js';
import { Graph } from '../ir/graph.js';
import type { GraphBuilder } from '../ir/builder.js';
import { tensorType } from '../ir/value-type.js';

export type { NonFiniteMode } from '../ir/program.js';

/** Not 'lion.…': every optimizer's step has it. */
export const NONFINITE_OUTPUT = 'optimizer.nonfinite';

/** Whether the float64 sum of the sums of `values` is NaN or ±Inf (true also when a float32 sum overflows). */
export function emitSumNotFinite(b: GraphBuilder, values: string[], base: string, output?: string): string {
  const sums = values.map((g) => b.op('Cast', [b.op('ReduceSum', [g], { keepdims: 0 }, `${g}.sum`)], { to: DataType.DOUBLE }, `${g}.sum_d`));
  const total = sums.length === 1 ? sums[0] : b.op('Sum', sums, {}, base);
  const either = [b.op('IsNaN', [total], {}, `${base}_nan`), b.op('IsInf', [total], {}, `${base}_inf`)];
  return output ? b.add('Or', either, {}, { exact: [output] })[0] : b.op('Or', either, {}, `${base}_not_finite`);
}

/** Emits the flag: true exactly when some element of `grads` (of element types `types`) is NaN or an infinity. */
export function emitNonFiniteFlag(b: GraphBuilder, grads: string[], types: number[]): string {
  const rough = emitSumNotFinite(b, grads, 'optimizer.grad_sum');
  const g = b.graph;
  const start = g.nodes.length;
  const scale = new Map<number, string>();
  const scaleOf = (t: number) => scale.get(t) ?? (scale.set(t, b.scalar('optimizer.overflow_scale', 2 ** -100, t)), scale.get(t)!);
  const exact = emitSumNotFinite(b, grads.map((x, i) => b.op('Mul', [x, scaleOf(types[i])], {}, `${x}.scaled`)), 'optimizer.grad_sum_scaled');
  const check = new Graph();
  check.name = b.fresh('nonfinite.exact');
  check.nodes = g.nodes.splice(start);
  check.outputs = [{ name: exact, type: tensorType(DataType.BOOL, []) }];
  const mark = g.nodes.length;
  const finite = new Graph();
  finite.name = b.fresh('nonfinite.none');
  finite.outputs = [{ name: b.op('Identity', [rough], {}, 'optimizer.grad_sum_finite'), type: tensorType(DataType.BOOL, []) }];
  finite.nodes = g.nodes.splice(mark);
  return b.add('If', [rough], { then_branch: check, else_branch: finite }, { exact: [NONFINITE_OUTPUT] })[0];
}
