import type { CommandModule } from 'yargs';
import { hyperparametersFrom, optimizerOptions, optimizerOptionsFrom, type OptimizerArgs } from './options.js';
import { runBuildJob } from './run-build.js';

interface Args extends OptimizerArgs {
  model: string;
  out: string;
  gradSuffix: string;
  gradMap?: string;
  loss?: string;
  init?: string;
  overwrite: boolean;
  verbose: boolean;
}

export const rewriteCommand: CommandModule<object, Args> = {
  command: 'rewrite <model>',
  describe: 'insert Lion updates into a training graph (gradients named <param>_grad) and write an artifacts directory',
  builder: (y) =>
    optimizerOptions(
      y
        .positional('model', { type: 'string', demandOption: true, describe: 'training graph .onnx' })
        .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'artifacts directory to write' })
        .option('grad-suffix', { type: 'string', default: '_grad', describe: 'gradient of parameter P is the value named P + suffix' })
        .option('grad-map', { type: 'string', describe: 'JSON file {"param": "gradient value"} instead of the suffix rule' })
        .option('loss', { type: 'string', describe: 'name of the loss output (default: "loss" or the only scalar output)' })
        .option('init', { type: 'string', describe: "initial weights for parameters that are graph inputs: ONNX Runtime's checkpoint, a .safetensors file, or an ONNX model" })
        .option('overwrite', { type: 'boolean', default: false, describe: 'replace an artifacts directory that holds training runs of another build (deletes those runs)' }),
    ) as never,
  handler: async (a) => {
    const m = await runBuildJob({ command: 'rewrite', model: a.model, out: a.out, verbose: a.verbose, output: { overwrite: a.overwrite }, opts: {
      gradSuffix: a.gradSuffix,
      gradMapFile: a.gradMap,
      initFile: a.init,
      loss: a.loss,
      nonFinite: a.nonfinite,
      optimizer: a.optimizer,
      optimizerOptions: optimizerOptionsFrom(a),
      hyperparameters: hyperparametersFrom(a),
      groups: { noDecay: a.noDecay, frozen: a.frozen },
    } });
    const trained = m.parameters.filter((p) => p.group !== 'frozen').length;
    const init = m.init
      ? `initial weights: ${m.init.bound.length} tensors from ${m.init.file} (${m.init.format})\n${m.init.unused.length ? `warning: ${m.init.file} also holds ${m.init.unused.length} tensors the graph does not use: ${m.init.unused.slice(0, 8).join(', ')}${m.init.unused.length > 8 ? ', …' : ''}\n` : ''}`
      : '';
    process.stdout.write(
      `wrote ${a.out}: step graph with ${m.parameters.length} parameters (${trained} trained), data inputs ${m.dataInputs.join(', ') || '(none)'}${m.loss ? `, loss '${m.loss.name}'` : ''}\n${init}`,
    );
  },
};
