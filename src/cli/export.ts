import type { CommandModule } from 'yargs';
import { exportTrained } from '../api/export.js';

export const exportCommand: CommandModule<object, { source: string; output: string; safetensors?: string }> = {
  command: 'export <source>',
  describe: 'write the trained inference model (no training inputs or optimizer state)',
  builder: (y) =>
    y
      .positional('source', { type: 'string', demandOption: true, describe: 'artifacts directory (its newest checkpoint) or a checkpoint .json' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the .onnx file to write' })
      .option('safetensors', { type: 'string', describe: 'also write the weights as safetensors under the model\u2019s parameter names' }) as never,
  handler: (a) => {
    const r = exportTrained(a.source, a.output, { safetensors: a.safetensors });
    process.stdout.write(`exported ${a.output} (weights from ${r.from}${r.step !== undefined ? `, step ${r.step}` : ''})${a.safetensors ? ` and ${a.safetensors}` : ''}\n`);
  },
};
