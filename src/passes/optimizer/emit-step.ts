/**
 * The optimizer step, emitted into a training graph whose gradients are known: parameters
 * become plain inputs (onnxruntime ignores feeds for initializers; their initial values go to
 * the state file), each trained parameter P gets its optimizer state as inputs (`P.<slot>`) and
 * outputs `P.out` and `P.<slot>.out` computed by the optimizer's update (optim/), the
 * hyperparameters are float64 scalar inputs, and — unless --nonfinite propagate — a flag
 * output says whether a gradient held NaN/Inf, in which case every update is skipped (one If,
 * optim/guard.ts). Outputs: the loss, the graph's other non-gradient outputs, updated
 * parameters, updated state, the flag. No user name is changed: a collision is an error.
 *
 * Shared by insert-optimizer (a training graph) and derive-apply (a graph of the update alone).
 */
import { GraphError } from '../../errors.js';
import { DataType, dataTypeName, isFloatType } from '../../onnx/data-types.js';
import type { Tensor } from '../../onnx/tensor.js';
import { GraphBuilder } from '../../ir/builder.js';
import type { Model, ValueInfo } from '../../ir/graph.js';
import type { IoEntry, InputRole, NonFiniteMode, OutputRole, ParamGroup, ParameterEntry, StepContract } from '../../ir/program.js';
import { removeDeadNodes, topoSort } from '../../ir/topo.js';
import { elemTypeOf, formatShape, shapeOf, tensorType } from '../../ir/value-type.js';
import { emitGuarded, type Guarded } from '../../optim/guard.js';
import { NONFINITE_OUTPUT, emitNonFiniteFlag } from '../../optim/nonfinite.js';
import { optimizerByName, resolveHyperparameters, resolveOptions } from '../../optim/registry.js';
import type { UpdateEmitter } from '../../optim/types.js';

export interface StepPlan {
  /** (parameter, gradient value) pairs, in parameter order. */
  pairs: { param: string; grad: string }[];
  groups: Map<string, ParamGroup>;
  optimizer: string;
  optimizerOptions?: Record<string, boolean | undefined>;
  hyperparameters?: Record<string, number | undefined>;
  nonFinite: NonFiniteMode;
  /** Name of the loss output; default: an output named "loss", else the only float scalar output. */
  loss?: string;
}

/** A step graph and its contract. */
export type StepProgram = StepContract & { model: Model };

/** Emits the step into `model` (the caller's own copy) and returns its contract. */
export function emitStep(model: Model, plan: StepPlan): StepContract {
  const optimizer = optimizerByName(plan.optimizer);
  const hyper = resolveHyperparameters(optimizer, plan.hyperparameters);
  const options = resolveOptions(optimizer, plan.optimizerOptions);
  const g = model.graph;
  const { pairs, groups } = plan;
  const gradOf = new Map(pairs.map((p) => [p.param, p.grad]));
  for (const { param, grad } of pairs) {
    const t = g.initializer(param);
    if (!t) throw new GraphError(`parameter '${param}' is not an initializer of the graph`);
    if (!isFloatType(t.dataType) || t.dataType === DataType.BFLOAT16 || t.dataType === DataType.FLOAT16)
      throw new GraphError(`parameter '${param}' is ${dataTypeName(t.dataType)}; Lion updates float32 or float64 parameters only — freeze it or convert the model`);
    const gShape = shapeOf(g.typeOf(grad));
    if (gShape && gShape.every((d) => typeof d === 'number') && (gShape.length !== t.dims.length || gShape.some((d, i) => d !== t.dims[i])))
      throw new GraphError(`gradient '${grad}' has shape ${formatShape(gShape)} but parameter '${param}' has [${t.dims.join(', ')}]; the gradient must match its parameter`);
    const gType = elemTypeOf(g.typeOf(grad));
    if (gType !== undefined && gType !== t.dataType) throw new GraphError(`gradient '${grad}' is ${dataTypeName(gType)} but parameter '${param}' is ${dataTypeName(t.dataType)}`);
  }

  // Loss: named, or the conventional name, or the only float scalar among the other outputs.
  const gradNames = new Set(pairs.map((p) => p.grad));
  const otherOutputs = g.outputs.filter((o) => !gradNames.has(o.name));
  let loss: string | undefined;
  if (plan.loss) {
    if (!otherOutputs.some((o) => o.name === plan.loss)) throw new GraphError(`loss output '${plan.loss}' is not an output of the graph`);
    loss = plan.loss;
  } else if (otherOutputs.some((o) => o.name === 'loss')) loss = 'loss';
  else {
    const scalars = otherOutputs.filter((o) => shapeOf(o.type)?.length === 0 && isFloatType(elemTypeOf(o.type) ?? 0));
    if (scalars.length === 1) loss = scalars[0].name;
  }

  const b = new GraphBuilder(g, { scope: `${optimizer.name}/` });
  // Claim every name the contract fixes before emitting anything, so a collision is reported
  // up front and nothing is half-built.
  for (const h of optimizer.hyperparameters) b.claim(h.input, `the ${optimizer.name} hyperparameter input`);
  const parameters: ParameterEntry[] = [];
  for (const { param, grad } of pairs) {
    const t = g.initializer(param)!;
    const entry: ParameterEntry = { name: param, shape: [...t.dims], dtype: dataTypeName(t.dataType), group: groups.get(param)!, grad };
    if (entry.group !== 'frozen') {
      entry.state = optimizer.slots.map((slot) => ({
        name: b.claim(`${param}.${slot}`, `the ${slot} state of '${param}'`),
        output: b.claim(`${param}.${slot}.out`, `the updated ${slot} state of '${param}'`),
      }));
      entry.output = b.claim(`${param}.out`, `the updated value of '${param}'`);
    }
    parameters.push(entry);
  }

  // Parameters become plain inputs; their initial values leave the graph.
  const paramSet = new Set(pairs.map((p) => p.param));
  const initialParams: Tensor[] = g.initializers.filter((t) => paramSet.has(t.name));
  const initialByName = new Map(initialParams.map((t) => [t.name, t]));
  g.initializers = g.initializers.filter((t) => !paramSet.has(t.name));
  g.inputs = g.inputs.filter((i) => !paramSet.has(i.name));
  const dataInputs = g.inputs.map((i) => i.name);
  const paramInputs: ValueInfo[] = parameters.map((p) => ({ name: p.name, type: tensorType(initialByName.get(p.name)!.dataType, p.shape) }));
  const stateInputs: ValueInfo[] = parameters.flatMap((p) => (p.state ?? []).map((s) => ({ name: s.name, type: tensorType(initialByName.get(p.name)!.dataType, p.shape) })));
  const hyperInputs: ValueInfo[] = optimizer.hyperparameters.map((h) => ({ name: h.input, type: tensorType(DataType.DOUBLE, []) }));
  g.inputs.push(...paramInputs, ...stateInputs, ...hyperInputs);

  const updated = parameters.filter((p) => p.group !== 'frozen');
  const guard = plan.nonFinite === 'propagate' ? undefined : (b.claim(NONFINITE_OUTPUT, 'the non-finite gradient flag'), emitNonFiniteFlag(b, updated.map((p) => gradOf.get(p.name)!), updated.map((p) => initialByName.get(p.name)!.dataType)));
  // Scalars shared by all parameters of one element type, emitted outside the guard.
  const emitterByType = new Map<number, UpdateEmitter>();
  for (const p of updated) {
    const dt = initialByName.get(p.name)!.dataType;
    if (!emitterByType.has(dt)) emitterByType.set(dt, optimizer.prepare(b, dt, options));
  }
  const typeOfParam = (name: string) => tensorType(initialByName.get(name)!.dataType, initialByName.get(name)!.dims);
  // With the guard, the updates write temporaries inside the else branch of one If on the flag,
  // whose then branch passes the old values through (optim/guard.ts): a skipped step costs
  // copies, a normal one nothing beyond the update.
  const emitUpdates = (): Guarded[] =>
    updated.flatMap((p) => {
      const state = p.state!;
      const names = {
        param: p.name,
        grad: gradOf.get(p.name)!,
        state: state.map((s) => s.name),
        paramOut: guard ? b.fresh(`${p.name}.${optimizer.name}_new`) : p.output!,
        stateOut: state.map((s) => (guard ? b.fresh(`${s.name}_new`) : s.output)),
      };
      emitterByType.get(initialByName.get(p.name)!.dataType)!(names, p.group === 'decay');
      const type = typeOfParam(p.name);
      return [{ old: p.name, updated: names.paramOut, out: p.output!, type }, ...state.map((s, i) => ({ old: s.name, updated: names.stateOut[i], out: s.output, type }))];
    });
  if (guard) emitGuarded(b, guard, emitUpdates);
  else emitUpdates();

  const kept = otherOutputs.sort((a, b2) => (a.name === loss ? -1 : b2.name === loss ? 1 : 0));
  g.outputs = [
    ...kept,
    ...parameters.filter((p) => p.output).map((p) => ({ name: p.output!, type: typeOfParam(p.name) })),
    ...parameters.flatMap((p) => (p.state ?? []).map((s) => ({ name: s.output, type: typeOfParam(p.name) }))),
    ...(guard ? [{ name: guard, type: tensorType(DataType.BOOL, []) }] : []),
  ];
  // Gradient values of frozen parameters (and anything only they used) are now dead.
  removeDeadNodes(g);
  g.nodes = topoSort(g);
  g.valueInfo = g.valueInfo.filter((v) => !gradNames.has(v.name) || g.nodes.some((n) => n.outputs.includes(v.name)));

  const dtypeOf = (vi: ValueInfo) => dataTypeName(elemTypeOf(vi.type) ?? 0);
  const inputs: IoEntry<InputRole>[] = [
    ...g.inputs.filter((i) => dataInputs.includes(i.name)).map((i) => ({ name: i.name, role: 'data' as const, dtype: dtypeOf(i), shape: shapeOf(i.type) })),
    ...paramInputs.map((i) => ({ name: i.name, role: 'param' as const, dtype: dtypeOf(i), shape: shapeOf(i.type), param: i.name })),
    ...parameters.flatMap((p) => (p.state ?? []).map((s) => ({ name: s.name, role: 'state' as const, dtype: p.dtype, shape: p.shape, param: p.name }))),
    ...hyperInputs.map((i) => ({ name: i.name, role: 'hyperparameter' as const, dtype: 'float64', shape: [] })),
  ];
  const outputs: IoEntry<OutputRole>[] = [
    ...kept.map((o) => ({ name: o.name, role: o.name === loss ? ('loss' as const) : ('output' as const), dtype: dtypeOf(o), shape: shapeOf(o.type) })),
    ...parameters.filter((p) => p.output).map((p) => ({ name: p.output!, role: 'param' as const, dtype: p.dtype, shape: p.shape, param: p.name })),
    ...parameters.flatMap((p) => (p.state ?? []).map((s) => ({ name: s.output, role: 'state' as const, dtype: p.dtype, shape: p.shape, param: p.name }))),
    ...(guard ? [{ name: guard, role: 'nonfinite' as const, dtype: 'bool', shape: [] }] : []),
  ];
  return {
    optimizer: optimizer.name,
    optimizerOptions: options,
    hyperparameterInputs: Object.fromEntries(optimizer.hyperparameters.map((h) => [h.key, h.input])),
    perStep: optimizer.hyperparameters.filter((h) => h.perStep).map((h) => h.key),
    parameters,
    inputs,
    outputs,
    dataInputs,
    loss,
    hyperparameters: hyper,
    nonFinite: plan.nonFinite,
    initialParams,
  };
}
