/**
 * free-batch-dim: a model exported with its batch fixed at 1 (openWakeWord's heads: [1, 16, 96])
 * trains at any batch size. When every data input's leading dim is 1, it becomes a symbol,
 * `batch`, and so do the leading dims of the values that follow it — unless something in the
 * graph depends on the batch being 1, in which case it stays fixed and the reason is recorded
 * (train then refuses another batch size, naming the node):
 *
 * - a Reshape to a constant shape whose first entry is a number (not 0 or -1);
 * - an op that mixes or picks rows: a Squeeze, Gather, Slice, Split, Concat or Flatten on the
 *   batch axis, a reduction over it (or over every axis), an If whose condition is batched.
 *
 * The shapes are followed with the project's shape inference (ir/shape-info.ts), which carries
 * the symbol through every op it knows.
 */
import { cloneModel } from '../../ir/clone.js';
import { attrInt, attrInts } from '../../ir/attributes.js';
import { defaultOpset, type Graph, type Model, type Node } from '../../ir/graph.js';
import { ShapeInfo } from '../../ir/shape-info.js';
import { shapeOf, tensorType, type Dim } from '../../ir/value-type.js';
import type { Pass } from '../pass.js';

export const BATCH = 'batch';

export interface BatchResult {
  /** The data inputs whose leading dim became `batch`. */
  freed?: string[];
  /** Why the batch stays fixed at 1. */
  fixedBy?: string;
}

const REDUCE = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

function label(n: Node): string {
  return `node '${n.name ?? n.outputs[0]}' (${n.opType})`;
}

/** The first node that needs the batch to stay 1, described; undefined when none does. */
function dependsOnBatch(g: Graph, info: ShapeInfo, opset: number): string | undefined {
  const batched = (v: string | undefined) => !!v && info.shape(v)?.[0] === BATCH;
  const axis = (n: Node, rank: number, dflt = 0) => {
    const a = attrInt(n, 'axis', dflt);
    return a < 0 ? a + rank : a;
  };
  for (const n of g.nodes) {
    const x = n.inputs[0];
    if (!batched(x) && n.opType !== 'If') continue;
    const rank = info.shape(x)?.length ?? 0;
    switch (n.opType) {
      case 'Reshape': {
        const target = info.value(n.inputs[1]);
        if (target && target[0] > 0) return `${label(n)} reshapes to [${target.join(', ')}], which fixes the first dimension at ${target[0]}`;
        break;
      }
      case 'Squeeze': {
        const axes = opset >= 13 ? (n.inputs[1] ? info.value(n.inputs[1]) : undefined) : attrInts(n, 'axes');
        if (!axes || axes.some((a) => (a < 0 ? a + rank : a) === 0)) return `${label(n)} squeezes the batch axis away`;
        break;
      }
      case 'Gather':
      case 'Split':
      case 'Concat':
        if (axis(n, rank) === 0) return `${label(n)} works along the batch axis`;
        break;
      case 'Flatten':
        if (axis(n, rank, 1) === 0) return `${label(n)} flattens the batch axis into the others`;
        break;
      case 'Slice': {
        const axes = n.inputs[3] ? info.value(n.inputs[3]) : [0];
        if (!axes || axes.some((a) => (a < 0 ? a + rank : a) === 0)) return `${label(n)} slices the batch axis`;
        break;
      }
      case 'If':
        if (batched(n.inputs[0])) return `${label(n)} decides on a batched condition (one condition per run, not per row)`;
        break;
      default:
        if (REDUCE.has(n.opType)) {
          const since = n.opType === 'ReduceSum' ? 13 : 18;
          const axes = opset >= since ? (n.inputs[1] ? info.value(n.inputs[1]) : []) : (attrInts(n, 'axes') ?? []);
          if (!axes || axes.length === 0 ? !attrInt(n, 'noop_with_empty_axes', 0) : axes.some((a) => (a < 0 ? a + rank : a) === 0))
            return `${label(n)} reduces over the batch axis, which mixes the rows of a batch`;
        }
    }
  }
  return undefined;
}

/** Leading dim 1 made `batch` (or unknown, for values whose shape inference no longer knows). */
function withBatch(shape: Dim[] | undefined, inferred: Dim[] | undefined): Dim[] | undefined {
  if (!shape || shape[0] !== 1) return shape;
  return [inferred?.[0] === BATCH ? BATCH : null, ...shape.slice(1)];
}

export const freeBatchDimPass: Pass<{ keep?: boolean }> = {
  name: 'free-batch-dim',
  stage: 'import',
  needs: 'an inference model',
  gives: "the same model with a batch fixed at 1 made symbolic, when nothing depends on it (else the reason it stays)",
  run: (model, opts) => {
    const g0 = model.graph;
    const inits = new Set(g0.initializers.map((t) => t.name));
    const data = g0.inputs.filter((i) => !inits.has(i.name));
    const fixed = data.filter((i) => shapeOf(i.type)?.[0] === 1);
    if (opts.keep || !data.length || fixed.length !== data.length) return { model, modified: false };
    const out = cloneModel(model);
    const g = out.graph;
    for (const i of g.inputs) if (!inits.has(i.name)) i.type = tensorType(i.type!.tensor_type!.elem_type!, [BATCH, ...shapeOf(i.type)!.slice(1)]);
    // Declared shapes downstream say 1 too: forget their leading dim so inference can say batch.
    const declared = [...g.outputs, ...g.valueInfo].filter((v) => shapeOf(v.type)?.[0] === 1);
    const saved = declared.map((v) => v.type);
    for (const v of declared) v.type = tensorType(v.type!.tensor_type!.elem_type!, [null, ...shapeOf(v.type)!.slice(1)]);
    const info = new ShapeInfo(g, defaultOpset(out));
    const reason = dependsOnBatch(g, info, defaultOpset(out));
    if (reason) {
      const kept = cloneModel(model);
      kept.program = { ...kept.program, batch: { fixedBy: reason } };
      return { model: kept, modified: true };
    }
    declared.forEach((v, k) => (v.type = tensorType(saved[k]!.tensor_type!.elem_type!, withBatch(shapeOf(saved[k]), info.shape(v.name)))));
    out.program = { ...out.program, batch: { freed: data.map((i) => i.name) } };
    return { model: out, modified: true };
  },
};
