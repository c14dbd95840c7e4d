import type { CommandModule } from 'yargs';
import { formatReport, inspectFile } from '../api/inspect.js';

export const inspectCommand: CommandModule<object, { model: string; json: boolean }> = {
  command: 'inspect <model>',
  describe: 'show opsets, inputs/outputs, parameters, (param, grad) pairs and op types of an ONNX model',
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'the .onnx file' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of text' }) as never,
  handler: (a) => {
    const report = inspectFile(a.model);
    process.stdout.write(a.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
  },
};
