/**
 * append-loss: a scalar loss on one model output and a new graph input for its target
 * (grad/losses.ts). The graph's outputs become the loss and that model output: what the eval
 * graph computes, and what differentiate starts from.
 */
import { GraphError, UsageError } from '../../errors.js';
import { DataType } from '../../onnx/data-types.js';
import { cloneModel } from '../../ir/clone.js';
import { defaultOpset, type Model } from '../../ir/graph.js';
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
    const { loss, target } = appendLoss(g, { kind: opts.loss, output, targetName: opts.targetName, opset: defaultOpset(out) });
    // Typed outputs: onnxruntime infers them anyway, but users' tools (and `inspect`) read them.
    const outType = g.outputs.find((o) => o.name === output)?.type;
    const info: LossInfo = { name: loss, kind: opts.loss, modelOutput: output, target };
    const outShape = shapeOf(outType);
    const classes = outShape?.[outShape.length - 1];
    if (opts.loss === 'cross-entropy' && typeof classes === 'number') info.classes = classes;
    g.outputs = [{ name: loss, type: tensorType(elemTypeOf(outType) ?? DataType.FLOAT, []) }, ...g.outputs.filter((o) => o.name === output)];
    if (!g.outputs[1]) throw new GraphError(`internal: output '${output}' vanished`);
    out.program = { ...out.program, loss: info };
    return { model: out, modified: true };
  },
};
