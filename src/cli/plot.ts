import type { CommandModule } from 'yargs';
import { plotLogs } from '../api/plot.js';

export const plotCommand: CommandModule<object, { runs: string[]; output: string; title?: string; overwrite: boolean }> = {
  command: 'plot <runs..>',
  describe: 'draw the loss and lr curves of one or more --log files into an SVG',
  builder: (y) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: '.jsonl files written by train --log' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the .svg to write' })
      .option('title', { type: 'string', describe: 'chart title' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace an existing file lion-onnx did not write' }) as never,
  handler: (a) => {
    const { runs } = plotLogs(a.runs, a.output, { title: a.title, overwrite: a.overwrite });
    process.stdout.write(`wrote ${a.output} (${runs} run${runs > 1 ? 's' : ''})\n`);
  },
};
