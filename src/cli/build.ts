import type { CommandModule } from 'yargs';
import { hyperparametersFrom, optimizerOptions, optimizerOptionsFrom, type OptimizerArgs } from './options.js';
import { runBuildJob } from './run-build.js';
import { buildReport, formatBuildReport } from '../api/build-report.js';
import { parseBatchAxis, parseConstant } from '../api/build.js';
import { UsageError } from '../errors.js';

/** NAME=VALUE flags, each value parsed. */
function pairs<T>(values: string[] | undefined, flag: string, parse: (name: string, value: string) => T): Record<string, T> | undefined {
  if (!values?.length) return undefined;
  const out: Record<string, T> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw new UsageError(`${flag} '${v}' must look like NAME=VALUE (NAME is a model input)`);
    out[v.slice(0, i)] = parse(v.slice(0, i), v.slice(i + 1));
  }
  return out;
}

interface Args extends OptimizerArgs {
  model: string;
  out: string;
  loss: 'cross-entropy' | 'mse' | 'bce';
  output?: string;
  targetName: string;
  params?: string;
  overwrite: boolean;
  verbose: boolean;
  json: boolean;
  tieDeduplicated: boolean;
  fixedBatch: boolean;
  constant?: string[];
  batchAxis?: string[];
}

export const buildCommand: CommandModule<object, Args> = {
  command: 'build <model>',
  describe: 'add a loss and the backward graph to an inference model and write a Lion artifacts directory',
  builder: (y) =>
    optimizerOptions(
      y
        .positional('model', { type: 'string', demandOption: true, describe: 'inference model .onnx (e.g. from torch.onnx.export)' })
        .option('loss', { choices: ['cross-entropy', 'mse', 'bce'] as const, demandOption: true, describe: 'loss on the model output' })
        .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'artifacts directory to write' })
        .option('output', { type: 'string', describe: 'model output the loss applies to (default: the only output)' })
        .option('target-name', { type: 'string', default: 'target', describe: 'name of the new target input' })
        .option('params', { type: 'string', describe: 'regex: train only the float tensors whose names match (default: every float tensor of rank >= 1 that reaches the loss)' })
        .option('tie-deduplicated', { type: 'boolean', default: false, describe: "keep tensors torch's exporter merged by value (Identity copies) as one tensor (default: each its own)" })
        .option('constant', { type: 'string', array: true, describe: 'NAME=VALUE: an input that is not data (a sample rate, a flag) fixed to a number, a JSON list or an .npy file' })
        .option('batch-axis', { type: 'string', array: true, describe: 'NAME=AXIS: a data input whose batch is on another axis than 0 (a recurrent state [layers, batch, hidden])' })
        .option('fixed-batch', { type: 'boolean', default: false, describe: 'keep a batch dimension exported as 1 fixed (default: made symbolic when nothing in the graph depends on it)' })
        .option('json', { type: 'boolean', default: false, describe: 'print what is trained and why as JSON' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'replace an artifacts directory that holds training runs of another build (deletes those runs)' }),
    ) as never,
  handler: async (a) => {
    const m = await runBuildJob({ command: 'build', model: a.model, out: a.out, verbose: a.verbose, output: { overwrite: a.overwrite }, opts: {
      loss: a.loss,
      output: a.output,
      targetName: a.targetName,
      params: a.params,
      frozen: a.frozen,
      noDecay: a.noDecay,
      nonFinite: a.nonfinite,
      optimizer: a.optimizer,
      optimizerOptions: optimizerOptionsFrom(a),
      hyperparameters: hyperparametersFrom(a),
      tieDeduplicated: a.tieDeduplicated,
      fixedBatch: a.fixedBatch,
      constants: pairs(a.constant, '--constant', parseConstant),
      batchAxes: pairs(a.batchAxis, '--batch-axis', parseBatchAxis),
    } });
    const report = buildReport(m);
    if (a.json) {
      process.stdout.write(JSON.stringify({ out: a.out, loss: m.loss, dataInputs: m.dataInputs, ...report }, null, 2) + '\n');
      return;
    }
    const count = m.parameters.reduce((s, p) => s + p.shape.reduce((x, y) => x * y, 1), 0);
    process.stdout.write(
      `wrote ${a.out}: ${m.parameters.length} parameter tensors (${count.toLocaleString('en-US')} values), ${a.loss} loss on '${m.loss?.modelOutput}'${m.loss?.logits ? ` (a ${m.loss.logits.activation} output: the loss takes its input '${m.loss.logits.name}' as the logits)` : ''}${m.loss?.probabilities ? ` (a probability: it comes from a ${m.loss.probabilities.activation} (${m.loss.probabilities.node}) through ops that keep it in [0, 1], so the loss is ${a.loss === 'bce' ? "BCE on the probabilities, as torch's BCELoss" : "the NLL of their log, as torch's NLLLoss(log p)"})` : ''}, data inputs ${m.dataInputs.join(', ')}\n${formatBuildReport(report)}\n`,
    );
  },
};
