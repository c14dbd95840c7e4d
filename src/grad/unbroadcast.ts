/**
 * Undoes broadcasting: reduces the gradient of a broadcast result back to one input's shape.
 * Sums over the leading axes the input lacks and over axes where the input has dim 1 and the
 * result does not, then reshapes to the input's shape. Static when the shapes decide it,
 * otherwise a small dynamic subgraph computes the axes at run time.
 */
import type { Dim } from '../ir/value-type.js';
import { DataType } from '../onnx/data-types.js';
import { makeTensor } from '../onnx/tensor.js';
import { int64s, reduceSum, shapeOf } from './emit.js';
import { isStatic } from '../ir/shape-info.js';
import type { Emitter } from './types.js';

/**
 * Axes of a gradient shaped `grad` to sum so it fits `target`, when the static shapes decide
 * it; undefined when only run time can tell (e.g. an unknown target dim that may be 1).
 */
export function broadcastAxes(grad: Dim[] | undefined, target: Dim[] | undefined): number[] | undefined {
  if (!grad || !target || target.length > grad.length) return undefined;
  const lead = grad.length - target.length;
  const axes = Array.from({ length: lead }, (_, i) => i);
  for (let i = 0; i < target.length; i++) {
    const t = target[i];
    const g = grad[lead + i];
    if (t === 1) {
      if (g !== 1) {
        if (g === null) return undefined;
        axes.push(lead + i);
      }
    } else if (typeof t === 'number') continue;
    // A symbolic target dim: only the same symbol in the gradient proves there was no broadcast.
    else if (t === null || t !== g) return undefined;
  }
  return axes;
}

/** The gradient `g` of a broadcast result, reduced to the shape of `target`. */
export function unbroadcast(e: Emitter, g: string, target: string): string {
  const gs = e.shape(g);
  const ts = e.shape(target);
  const axes = broadcastAxes(gs, ts);
  if (axes) {
    if (axes.length === 0) return g;
    const summed = reduceSum(e, g, axes, true);
    if (gs!.length === ts!.length) return summed;
    return e.b.op('Reshape', [summed, isStatic(ts) ? int64s(e, ts) : shapeOf(e, target)]);
  }
  return dynamicUnbroadcast(e, g, target);
}

/**
 * Run-time version: pad the target's shape with leading 1s to the gradient's rank, sum over
 * the axes where the padded target has 1 and the gradient does not, reshape to the target.
 */
function dynamicUnbroadcast(e: Emitter, g: string, target: string): string {
  const b = e.b;
  const gShape = b.op('Shape', [g]);
  const tShape = b.op('Shape', [target]);
  const missing = b.op('Sub', [b.op('Shape', [gShape]), b.op('Shape', [tShape])]);
  const ones = b.op('ConstantOfShape', [missing], { value: makeTensor('', DataType.INT64, [1], [1]) });
  const padded = b.op('Concat', [ones, tShape], { axis: 0 });
  const one = int64s(e, [1]);
  const mask = b.op('And', [b.op('Equal', [padded, one]), b.op('Not', [b.op('Equal', [gShape, one])])]);
  const axes = b.op('Reshape', [b.op('NonZero', [mask]), int64s(e, [-1])]);
  const summed = reduceSum(e, g, axes, true, true);
  return b.op('Reshape', [summed, tShape]);
}
