/**
 * loop-steps: step graph -> a graph that runs K steps in one ONNX Loop.
 *
 * Why: onnxruntime-node copies every output of a run into freshly allocated memory (and with
 * CUDA, every input and output crosses the bus), so one step per run spends most of its time
 * moving parameters and momenta. Inside a Loop they stay in ORT for K steps.
 *
 * Requires: a step graph from insert-optimizer. Ensures: a model with the same input names, where
 * each data input has a new leading axis of length K (the batches stacked) and `lion.lr` is a
 * [K] vector (one learning rate per step); K is read from the length of `lion.lr`, so one graph
 * serves any K (AdamW's step count is a [K] vector too). Parameters and optimizer state are
 * loop-carried; the outputs keep their names: the final `<p>.out` and state outputs
 * (`<p>.lion_m.out`), and the per-step loss as a [K] scan output; the non-finite flag is one
 * for the run, from the final state (see below; per step, as a [K] scan output, for an
 * optimizer that does not keep a non-finite gradient in its state). The body is the step
 * graph itself with every name it defines suffixed, because a
 * subgraph may not redefine a name of its enclosing graph.
 */
import { DataType } from '../../onnx/data-types.js';
import { GraphBuilder } from '../../ir/builder.js';
import { cloneGraph } from '../../ir/clone.js';
import { allGraphs, defaultOpset, Graph, type Model } from '../../ir/graph.js';
import { GraphError } from '../../errors.js';
import { makeAttribute } from '../../ir/attributes.js';
import { elemTypeOf, shapeOf, tensorType } from '../../ir/value-type.js';
import type { StepProgram } from '../optimizer/emit-step.js';
import { expectThat, type Pass } from '../pass.js';
import { renameAll } from '../../ir/rename.js';
import { withoutGuard } from '../../optim/guard.js';
import { NONFINITE_OUTPUT, emitSumNotFinite } from '../../optim/nonfinite.js';
import { optimizerByName } from '../../optim/registry.js';
import { removeDeadNodes } from '../../ir/topo.js';

const SUFFIX = '/loop';

export function loopSteps(step: StepProgram): Model {
  const src = step.model;
  // The loop's own nodes take Squeeze/Unsqueeze axes as inputs.
  if (defaultOpset(src) < 13)
    throw new GraphError(`the step graph imports ONNX opset ${defaultOpset(src)}; the K-step loop needs opset 13 or later (the build and rewrite pipelines upgrade it first)`);
  // Unguarded: the runtime replays a loop run that flagged a non-finite gradient (optim/guard.ts).
  const body = withoutGuard(cloneGraph(src.graph), NONFINITE_OUTPUT);
  body.name = 'lion_step';
  // Hyperparameters other than the per-step ones (lr, AdamW's step) are the same for all K
  // steps: the body reads the outer ones. So are frozen parameters (inputs, not updated).
  const perStep = step.perStep.map((k) => step.hyperparameterInputs[k]);
  const shared = new Set<string>([
    ...Object.values(step.hyperparameterInputs).filter((n) => !perStep.includes(n)),
    ...step.parameters.filter((p) => !p.output).map((p) => p.name),
  ]);
  const defined = new Set<string>();
  for (const sg of allGraphs(body)) {
    for (const v of sg.inputs) defined.add(v.name);
    for (const t of sg.initializers) defined.add(t.name);
    for (const n of sg.nodes) {
      for (const o of n.outputs) if (o) defined.add(o);
      if (n.name) defined.add(n.name);
    }
  }
  const rename = new Map([...defined].filter((n) => !shared.has(n)).map((n) => [n, n + SUFFIX]));
  renameAll(body, rename);
  const inner = (n: string) => rename.get(n) ?? n;

  const outer = new Graph();
  outer.name = `${src.graph.name ?? 'step'}_loop`;
  const ob = new GraphBuilder(outer, { scope: 'loop/' });
  // Reserve every name the body uses so outer helper names cannot collide with them.
  for (const n of [...defined, ...rename.values()]) ob.claim(n, 'the loop body');

  const stepInputs = new Map(src.graph.inputs.map((i) => [i.name, i]));
  const trained = step.parameters.filter((p) => p.output);
  const carried = [...trained.map((p) => p.name), ...trained.flatMap((p) => p.state!.map((s) => s.name))];
  const carriedOut = [...trained.map((p) => p.output!), ...trained.flatMap((p) => p.state!.map((s) => s.output))];

  // Outer inputs: the step graph's, with data stacked on a new axis and lr a vector.
  for (const i of src.graph.inputs) {
    if (step.dataInputs.includes(i.name)) {
      const shape = shapeOf(i.type);
      outer.inputs.push({ name: i.name, type: tensorType(elemTypeOf(i.type) ?? 0, shape ? ['steps', ...shape] : undefined) });
    } else if (perStep.includes(i.name)) outer.inputs.push({ name: i.name, type: tensorType(DataType.DOUBLE, ['steps']) });
    else outer.inputs.push({ ...i });
  }

  // Body signature: (iteration, condition, carried...) -> (condition, carried..., scans...).
  const iter = ob.fresh('loop.iteration');
  const condIn = ob.fresh('loop.cond_in');
  const condOut = ob.fresh('loop.cond_out');
  body.inputs = [
    { name: iter, type: tensorType(DataType.INT64, []) },
    { name: condIn, type: tensorType(DataType.BOOL, []) },
    ...carried.map((n) => ({ ...stepInputs.get(n)!, name: inner(n) })),
  ];
  const bb = new GraphBuilder(body, { scope: 'loop/', used: new Set([...defined, ...rename.values(), iter, condIn, condOut]) });
  const prelude: typeof body.nodes = [];
  const bodyNodes = body.nodes;
  body.nodes = prelude;
  for (const d of step.dataInputs) bb.add('Gather', [d, iter], { axis: 0 }, { exact: [inner(d)] });
  for (const h of perStep) bb.add('Gather', [h, iter], { axis: 0 }, { exact: [inner(h)] });
  bb.add('Identity', [condIn], {}, { exact: [condOut] });
  body.nodes = [...prelude, ...bodyNodes];

  // The non-finite flag: where the optimizer keeps a non-finite gradient in a state slot
  // (Optimizer.nonFiniteStaysIn), one check of that slot after the K steps finds every step
  // the guarded step graph would have skipped, for a reduction over the state once per run
  // instead of over every gradient on every step. A false alarm (a float32 sum of large finite
  // momenta that overflows) only costs a replay through step.onnx, whose check is exact.
  const staysIn = optimizerByName(step.optimizer).nonFiniteStaysIn;
  const checkState = staysIn !== undefined && src.graph.outputs.some((o) => o.name === NONFINITE_OUTPUT);
  const scans = src.graph.outputs.filter((o) => !carriedOut.includes(o.name) && !(checkState && o.name === NONFINITE_OUTPUT));
  const bodyOut = new Map(body.outputs.map((o) => [o.name, o]));
  body.outputs = [
    { name: condOut, type: tensorType(DataType.BOOL, []) },
    ...carriedOut.map((n) => bodyOut.get(inner(n))!),
    ...scans.map((o) => bodyOut.get(inner(o.name))!),
  ];

  if (checkState) removeDeadNodes(body);

  const M = ob.op('Gather', [ob.op('Shape', [step.hyperparameterInputs.lr]), ob.int64s('loop.zero', [0])], { axis: 0 }, 'loop.trip_count_1d');
  const trip = ob.op('Squeeze', [M, ob.int64s('loop.axes0', [0])], {}, 'loop.trip_count');
  outer.nodes.push({
    opType: 'Loop',
    inputs: [trip, '', ...carried],
    outputs: [...carriedOut, ...scans.map((o) => o.name)],
    attributes: [makeAttribute('body', body)],
    name: ob.fresh('lion_loop'),
  });
  outer.outputs = [
    ...carriedOut.map((n) => src.graph.outputs.find((o) => o.name === n)!),
    ...scans.map((o) => {
      const shape = shapeOf(o.type);
      return { name: o.name, type: tensorType(elemTypeOf(o.type) ?? DataType.FLOAT, shape ? ['steps', ...shape] : undefined) };
    }),
  ];
  if (checkState) {
    emitSumNotFinite(ob, trained.map((p) => p.state![staysIn].output), 'loop.state_sum', NONFINITE_OUTPUT);
    outer.outputs.push({ name: NONFINITE_OUTPUT, type: tensorType(DataType.BOOL, []) });
  }
  // The loop graph keeps the step graph's opset: its nodes move into the body unchanged (a
  // loop stamped with a newer opset than its nodes were written for is refused by onnxruntime).
  return { ...src, opsetImports: src.opsetImports.map((o) => ({ ...o })), graph: outer };
}

export const loopStepsPass: Pass = {
  name: 'loop-steps',
  stage: 'runtime',
  needs: 'a step graph with its contract (insert-optimizer)',
  gives: 'K steps in one ONNX Loop: the same inputs, data stacked [K, …], per-step hyperparameters [K]',
  requires: (model) => expectThat('loop-steps', 'requires', !!model.program?.step, 'no step contract (run insert-optimizer first)'),
  ensures: (out, input) => {
    const names = (m: Model) => m.graph.inputs.map((i) => i.name).sort().join();
    expectThat('loop-steps', 'ensures', names(out) === names(input), 'the loop graph\u2019s inputs differ from the step graph\u2019s');
    expectThat('loop-steps', 'ensures', out.graph.nodes.some((n) => n.opType === 'Loop'), 'no Loop node');
  },
  run: (model) => ({ model: loopSteps({ ...model.program!.step!, model }), modified: true }),
};
