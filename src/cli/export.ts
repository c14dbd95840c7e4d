import type { CommandModule } from 'yargs';
import { exportTrained } from '../api/export.js';

interface Args {
  source: string;
  output: string;
  safetensors?: string;
  run?: string;
  overwrite: boolean;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export <source>',
  describe: 'write the trained inference model (no training inputs or optimizer state)',
  builder: (y) =>
    y
      .positional('source', { type: 'string', demandOption: true, describe: "artifacts directory (its newest run's newest checkpoint) or a checkpoint .json" })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the .onnx file to write' })
      .option('safetensors', { type: 'string', describe: 'also write the weights as safetensors under the model\u2019s parameter names' })
      .option('run', { type: 'string', describe: 'with a directory: export this run (run-0001, …) instead of the newest' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace existing output files that lion-onnx did not write' }) as never,
  handler: (a) => {
    const r = exportTrained(a.source, a.output, { safetensors: a.safetensors, run: a.run, overwrite: a.overwrite });
    const from = r.step !== undefined ? `${r.run ? `${r.run}, ` : ''}step ${r.step}: ${r.from}` : r.from;
    process.stdout.write(`exported ${a.output}${a.safetensors ? ` and ${a.safetensors}` : ''} (weights from ${from})\n`);
    if (r.leftOut?.length) process.stdout.write(`${a.safetensors} leaves out ${r.leftOut.length} tensor${r.leftOut.length > 1 ? 's' : ''} with no torch name: ${r.leftOut.join(', ')} (see the build's report)\n`);
  },
};
