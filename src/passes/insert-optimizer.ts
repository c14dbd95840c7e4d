/**
 * insert-optimizer (insert-lion): training graph -> step graph.
 *
 * Requires: a training graph in which each trainable parameter P (an initializer) has a
 * gradient value, by default named `P_grad` (ONNX Runtime's convention), or given by `gradMap`.
 * Ensures: parameters are plain graph inputs (initial values go to the state file, since ORT
 * silently ignores feeds for initializers); each non-frozen P gets its optimizer state as
 * inputs (Lion: the momentum `P.lion_m`) and outputs `P.out` and `P.lion_m.out` computed by
 * the update; the hyperparameters are float64 scalar inputs (`lion.lr`, `lion.beta1`,
 * `lion.beta2`, `lion.weight_decay`). Outputs: the loss (when there is one), the graph's other
 * non-gradient outputs, updated parameters, updated state, and the non-finite flag. Gradient
 * outputs are consumed, not output. No user name is changed. AdamW and SGD (optim/) are
 * emitted the same way, for comparisons.
 */
import { GraphError } from '../errors.js';
import { DataType, dataTypeName, isFloatType } from '../onnx/data-types.js';
import { checkNodes } from '../onnx/node-check.js';
import type { Tensor } from '../onnx/tensor.js';
import { GraphBuilder } from '../ir/builder.js';
import { cloneModel } from '../ir/clone.js';
import type { Model, ValueInfo } from '../ir/graph.js';
import { removeDeadNodes, topoSort } from '../ir/topo.js';
import { elemTypeOf, formatShape, shapeOf, tensorType } from '../ir/value-type.js';
import type { IoEntry, InputRole, OutputRole, ParameterEntry } from '../artifacts/manifest.js';
import { assignGroups, type GroupPatterns } from '../optim/groups.js';
import { emitGuarded, type Guarded } from '../optim/guard.js';
import { NONFINITE_OUTPUT, emitNonFiniteFlag, type NonFiniteMode } from '../optim/nonfinite.js';
import { optimizerByName, resolveHyperparameters, type Hyperparameters, type OptimizerName } from '../optim/optimizer.js';

export interface InsertOptimizerOptions {
  /** Which update to emit. Default 'lion'. */
  optimizer?: OptimizerName;
  /** Suffix that names a parameter's gradient: P + suffix. Default "_grad". */
  gradSuffix?: string;
  /** Explicit parameter -> gradient value map; replaces suffix detection. */
  gradMap?: Record<string, string>;
  groups?: GroupPatterns;
  /** Defaults recorded in the manifest (the graph takes them as inputs); keys as in optim/. */
  hyperparameters?: Record<string, number | undefined>;
  /** Name of the loss output; default: an output named "loss", else the only float scalar output. */
  loss?: string;
  /** What a step does with NaN/Inf gradients (optim/nonfinite.ts). Default 'skip'. */
  nonFinite?: NonFiniteMode;
}

/** Kept for the API: insert-lion is insert-optimizer with Lion. */
export type InsertLionOptions = Omit<InsertOptimizerOptions, 'optimizer'>;

export interface StepProgram {
  model: Model;
  optimizer: OptimizerName;
  /** Hyperparameter key -> graph input (float64 scalar; [K] in the loop graph for perStep keys). */
  hyperparameterInputs: Record<string, string>;
  /** Keys the runtime computes each step (lr, and step for AdamW). */
  perStep: string[];
  parameters: ParameterEntry[];
  inputs: IoEntry<InputRole>[];
  outputs: IoEntry<OutputRole>[];
  dataInputs: string[];
  loss?: string;
  hyperparameters: Hyperparameters;
  nonFinite: NonFiniteMode;
  /** Initial parameters (from the initializers), in parameter order. */
  initialParams: Tensor[];
}

/** The (param, grad) pairs of a training graph; used by insertLion and `inspect`. */
export function findGradientPairs(model: Model, opts: { gradSuffix?: string; gradMap?: Record<string, string> } = {}): { param: string; grad: string }[] {
  const g = model.graph;
  const values = new Set<string>([...g.nodes.flatMap((n) => n.outputs), ...g.inputs.map((i) => i.name)]);
  if (opts.gradMap) {
    return Object.entries(opts.gradMap).map(([param, grad]) => {
      if (!g.initializer(param)) throw new GraphError(`--grad-map names parameter '${param}', but the graph has no initializer of that name`);
      if (!values.has(grad)) throw new GraphError(`--grad-map maps '${param}' to '${grad}', but no node computes a value of that name`);
      return { param, grad };
    });
  }
  const suffix = opts.gradSuffix ?? '_grad';
  return g.initializers.filter((t) => values.has(t.name + suffix)).map((t) => ({ param: t.name, grad: t.name + suffix }));
}

export function insertLion(source: Model, opts: InsertLionOptions = {}): StepProgram {
  return insertOptimizer(source, { ...opts, optimizer: 'lion' });
}

export function insertOptimizer(source: Model, opts: InsertOptimizerOptions = {}): StepProgram {
  const optimizer = optimizerByName(opts.optimizer ?? 'lion');
  const hyper = resolveHyperparameters(optimizer, opts.hyperparameters);
  const suffix = opts.gradSuffix ?? '_grad';
  checkNodes(source, (source as { source?: string }).source);
  const model = cloneModel(source);
  const g = model.graph;
  const pairs = findGradientPairs(model, opts);
  if (pairs.length === 0) {
    const example = g.initializers[0]?.name;
    throw new GraphError(
      `no gradient values found: none of the graph's ${g.initializers.length} initializers has a value named '<initializer>${suffix}'` +
        (example ? ` (e.g. '${example}${suffix}')` : '') +
        `; produce gradients with that suffix, or pass --grad-suffix or --grad-map FILE.json`,
    );
  }
  const gradOf = new Map(pairs.map((p) => [p.param, p.grad]));
  for (const { param, grad } of pairs) {
    const t = g.initializer(param)!;
    if (!isFloatType(t.dataType) || t.dataType === DataType.BFLOAT16 || t.dataType === DataType.FLOAT16)
      throw new GraphError(`parameter '${param}' is ${dataTypeName(t.dataType)}; Lion updates float32 or float64 parameters only — freeze it or convert the model`);
    const gShape = shapeOf(g.typeOf(grad));
    if (gShape && gShape.every((d) => typeof d === 'number') && (gShape.length !== t.dims.length || gShape.some((d, i) => d !== t.dims[i])))
      throw new GraphError(`gradient '${grad}' has shape ${formatShape(gShape)} but parameter '${param}' has [${t.dims.join(', ')}]; the gradient must match its parameter`);
    const gType = elemTypeOf(g.typeOf(grad));
    if (gType !== undefined && gType !== t.dataType)
      throw new GraphError(`gradient '${grad}' is ${dataTypeName(gType)} but parameter '${param}' is ${dataTypeName(t.dataType)}`);
  }
  const groups = assignGroups(pairs.map((p) => p.param), opts.groups ?? {});

  // Loss: named, or the conventional name, or the only float scalar among the other outputs.
  const gradNames = new Set(pairs.map((p) => p.grad));
  const otherOutputs = g.outputs.filter((o) => !gradNames.has(o.name));
  let loss: string | undefined;
  if (opts.loss) {
    if (!otherOutputs.some((o) => o.name === opts.loss)) throw new GraphError(`loss output '${opts.loss}' is not an output of the graph`);
    loss = opts.loss;
  } else if (otherOutputs.some((o) => o.name === 'loss')) loss = 'loss';
  else {
    const scalars = otherOutputs.filter((o) => shapeOf(o.type)?.length === 0 && isFloatType(elemTypeOf(o.type) ?? 0));
    if (scalars.length === 1) loss = scalars[0].name;
  }

  const b = new GraphBuilder(g, { scope: `${optimizer.name}/` });
  // Claim every name the contract fixes before emitting anything, so a collision is reported
  // up front and nothing is half-built.
  for (const name of Object.values(optimizer.inputs)) b.claim(name, `the ${optimizer.name} hyperparameter input`);
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
  const initialParams = g.initializers.filter((t) => paramSet.has(t.name));
  const initialByName = new Map(initialParams.map((t) => [t.name, t]));
  g.initializers = g.initializers.filter((t) => !paramSet.has(t.name));
  g.inputs = g.inputs.filter((i) => !paramSet.has(i.name));
  const dataInputs = g.inputs.map((i) => i.name);
  const paramInputs: ValueInfo[] = parameters.map((p) => ({ name: p.name, type: tensorType(initialByName.get(p.name)!.dataType, p.shape) }));
  const stateInputs: ValueInfo[] = parameters.flatMap((p) => (p.state ?? []).map((s) => ({ name: s.name, type: tensorType(initialByName.get(p.name)!.dataType, p.shape) })));
  const hyperInputs: ValueInfo[] = Object.values(optimizer.inputs).map((name) => ({ name, type: tensorType(DataType.DOUBLE, []) }));
  g.inputs.push(...paramInputs, ...stateInputs, ...hyperInputs);

  const nonFinite = opts.nonFinite ?? 'skip';
  const updated = parameters.filter((p) => p.group !== 'frozen');
  const guard = nonFinite === 'propagate' ? undefined : (b.claim(NONFINITE_OUTPUT, 'the non-finite gradient flag'), emitNonFiniteFlag(b, updated.map((p) => gradOf.get(p.name)!)));
  // Scalars shared by all parameters of one element type, emitted outside the guard.
  const sharedByType = new Map<number, unknown>();
  for (const p of updated) {
    const dt = initialByName.get(p.name)!.dataType;
    if (!sharedByType.has(dt)) sharedByType.set(dt, optimizer.emitShared(b, dt));
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
      optimizer.emitUpdate(b, sharedByType.get(initialByName.get(p.name)!.dataType), names, p.group === 'decay');
      const type = typeOfParam(p.name);
      return [
        { old: p.name, updated: names.paramOut, out: p.output!, type },
        ...state.map((s, i) => ({ old: s.name, updated: names.stateOut[i], out: s.output, type })),
      ];
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
    ...g.inputs
      .filter((i) => dataInputs.includes(i.name))
      .map((i) => ({ name: i.name, role: 'data' as const, dtype: dtypeOf(i), shape: shapeOf(i.type) })),
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
    model,
    optimizer: optimizer.name,
    hyperparameterInputs: { ...optimizer.inputs },
    perStep: [...optimizer.perStep],
    parameters,
    inputs,
    outputs,
    dataInputs,
    loss,
    hyperparameters: hyper,
    nonFinite,
    initialParams,
  };
}
