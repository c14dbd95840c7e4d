/**
 * append-loss: a scalar loss on one model output and a new graph input for its target
 * (grad/losses.ts). The graph's outputs become the loss and that model output: what the eval
 * graph computes, and what differentiate starts from.
 */
import { GraphError, UsageError } from '../../errors.js';
import { DataType } from '../../onnx/data-types.js';
import { cloneModel } from '../../ir/clone.js';
import { defaultOpset, Graph, type Model, type Node } from '../../ir/graph.js';
import { attrInt } from '../../ir/attributes.js';
import type { LossInfo } from '../../ir/program.js';
import { elemTypeOf, shapeOf, tensorType } from '../../ir/value-type.js';
import { appendLoss, type LossKind } from '../../grad/losses.js';
import { expectThat, type Pass } from '../pass.js';

export interface AppendLossOptions {
  loss: LossKind;
  /** Model output the loss applies to; default the model's only output. */
  output?: string;
  /** Name of the new target input; default "target". */
  targetName?: string;
}

/**
 * The logits behind a model output that is already a probability: bce on the output of a Sigmoid,
 * cross-entropy on the output of a Softmax (or LogSoftmax) over the last axis, through Identity
 * copies. The loss is then built on the activation's input — the same value as BCELoss /
 * NLLLoss(log p) on the probabilities, without their overflow — instead of treating the
 * probabilities as logits, which would train toward the wrong thing without a word.
 */
export function logitsBehind(model: Model, output: string, kind: LossKind): { logits: string; node: Node } | undefined {
  if (kind === 'mse') return undefined;
  const g = model.graph;
  const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  let n = producer.get(output);
  while (n && n.opType === 'Identity' && !n.domain) n = producer.get(n.inputs[0]);
  if (!n || n.domain) return undefined;
  if (kind === 'bce' && n.opType === 'Sigmoid') return { logits: n.inputs[0], node: n };
  if (kind === 'cross-entropy' && (n.opType === 'Softmax' || n.opType === 'LogSoftmax')) {
    // Opset >= 13 (import upgrades to 16): the axis alone, default -1.
    const rank = shapeOf(g.outputs.find((o) => o.name === output)?.type)?.length;
    const axis = attrInt(n, 'axis', -1);
    if (axis === -1 || (rank !== undefined && axis === rank - 1)) return { logits: n.inputs[0], node: n };
  }
  return undefined;
}

/** Ops whose output stays in [0, 1] when every (data) input is in [0, 1]: copies, rearrangements, means and extremes. */
const RANGE_PRESERVING = new Set(['Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Transpose', 'Gather', 'GatherElements', 'Slice', 'Expand', 'Tile', 'Concat', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'Max', 'Min']);
/** Of each op above, the inputs that carry the value (the others are indices, shapes or axes). */
const carried = (n: Node): string[] => (n.opType === 'Concat' || n.opType === 'Max' || n.opType === 'Min' ? n.inputs : [n.inputs[0]]).filter((i) => i !== '');

/**
 * Where a model output is a probability the loss cannot take logits for: the activation (a
 * Sigmoid for bce, a Softmax for cross-entropy) followed by ops that keep values in [0, 1]
 * (silero VAD averages its Sigmoid over time), or an If whose every branch ends so (openWakeWord's
 * heads with a verifier). Returns the activation reached (one of them). The loss is then BCE on
 * the probabilities (torch's BCELoss) or NLL of their log, not a logits loss applied to them.
 */
export function probabilityBehind(model: Model, output: string, activation: 'Sigmoid' | 'Softmax' = 'Sigmoid'): Node | undefined {
  const producers = (g: Graph) => new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  // Each value's answer, once: a value read twice (Max(p, p), both branches of an If reading one
  // outer Sigmoid) is a probability both times. null while a value is being walked.
  const known = new Map<string, Node | null>();
  // `scopes`: the graph the value lives in, then the enclosing ones (a branch may output an outer value).
  const walk = (value: string, scopes: Map<string, Node>[]): Node | undefined => {
    if (known.has(value)) return known.get(value) ?? undefined;
    if (known.size > 10_000) return undefined;
    known.set(value, null);
    const found = step(value, scopes);
    known.set(value, found ?? null);
    return found;
  };
  const step = (value: string, scopes: Map<string, Node>[]): Node | undefined => {
    const at = scopes.findIndex((p) => p.has(value));
    if (at < 0) return undefined;
    const n = scopes[at].get(value)!;
    const outer = scopes.slice(at);
    if (n.domain) return undefined;
    if (n.opType === activation) {
      // A Softmax over another axis than the last is not a class distribution the loss reads.
      if (activation === 'Softmax' && attrInt(n, 'axis', -1) !== -1) return undefined;
      return n;
    }
    if (n.opType === 'If') {
      const k = n.outputs.indexOf(value);
      let found: Node | undefined;
      for (const a of n.attributes) {
        if (a.name !== 'then_branch' && a.name !== 'else_branch') continue;
        const g = a.value;
        if (!(g instanceof Graph)) return undefined;
        const r = walk(g.outputs[k]?.name ?? '', [producers(g), ...outer]);
        if (!r) return undefined;
        found ??= r;
      }
      return found;
    }
    if (!RANGE_PRESERVING.has(n.opType)) return undefined;
    let found: Node | undefined;
    for (const i of carried(n)) {
      const r = walk(i, outer);
      if (!r) return undefined;
      found ??= r;
    }
    return found;
  };
  return walk(output, [producers(model.graph)]);
}

/** The output the loss applies to: named, or the only one. */
export function lossOutput(model: Model, output: string | undefined): string {
  const outs = model.graph.outputs;
  if (output === undefined) {
    if (outs.length !== 1) throw new UsageError(`the model has ${outs.length} outputs (${outs.map((o) => o.name).join(', ')}); name the one the loss applies to with --output`);
    return outs[0].name;
  }
  if (!outs.some((o) => o.name === output)) throw new UsageError(`--output '${output}' is not an output of the model; its outputs are ${outs.map((o) => o.name).join(', ')}`);
  return output;
}

export const appendLossPass: Pass<AppendLossOptions> = {
  name: 'append-loss',
  stage: 'training',
  needs: 'an inference model with parameters discovered',
  gives: 'the model plus a loss and its target input; outputs: the loss, then the model output',
  requires: (model) => expectThat('append-loss', 'requires', !!model.program?.parameters, 'parameters were not discovered (run discover-parameters first)'),
  ensures: (out) => {
    const loss = out.program?.loss;
    expectThat('append-loss', 'ensures', !!loss && out.graph.outputs[0]?.name === loss.name, 'the loss is not the first output');
    expectThat('append-loss', 'ensures', !!loss?.target && !!out.graph.input(loss.target), 'the target is not a graph input');
  },
  run: (model, opts) => {
    const output = lossOutput(model, opts.output);
    const out = cloneModel(model);
    const g = out.graph;
    const behind = logitsBehind(out, output, opts.loss);
    const probability = behind || opts.loss === 'mse' ? undefined : probabilityBehind(out, output, opts.loss === 'bce' ? 'Sigmoid' : 'Softmax');
    const { loss, target } = appendLoss(g, { kind: opts.loss, output: behind?.logits ?? output, targetName: opts.targetName, opset: defaultOpset(out), probabilities: !!probability });
    // Typed outputs: onnxruntime infers them anyway, but users' tools (and `inspect`) read them.
    const outType = g.outputs.find((o) => o.name === output)?.type;
    const info: LossInfo = { name: loss, kind: opts.loss, modelOutput: output, target };
    if (behind) info.logits = { name: behind.logits, activation: behind.node.opType, node: behind.node.name ?? behind.node.outputs[0] };
    if (probability) info.probabilities = { activation: probability.opType, node: probability.name ?? probability.outputs[0] };
    const outShape = shapeOf(outType);
    const classes = outShape?.[outShape.length - 1];
    if (opts.loss === 'cross-entropy' && typeof classes === 'number') info.classes = classes;
    g.outputs = [{ name: loss, type: tensorType(elemTypeOf(outType) ?? DataType.FLOAT, []) }, ...g.outputs.filter((o) => o.name === output)];
    if (!g.outputs[1]) throw new GraphError(`internal: output '${output}' vanished`);
    out.program = { ...out.program, loss: info };
    return { model: out, modified: true };
  },
};
