import type { CommandModule } from 'yargs';
import { plotRuns, readRunLog } from '../report/plot.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const plotCommand: CommandModule<object, { runs: string[]; output: string; title?: string }> = {
  command: 'plot <runs..>',
  describe: 'draw the loss and lr curves of one or more --log files into an SVG',
  builder: (y) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: '.jsonl files written by train --log' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the .svg to write' })
      .option('title', { type: 'string', describe: 'chart title' }) as never,
  handler: (a) => {
    const runs = a.runs.map(readRunLog);
    writeFileAtomic(a.output, plotRuns(runs, { title: a.title }));
    process.stdout.write(`wrote ${a.output} (${runs.length} run${runs.length > 1 ? 's' : ''})\n`);
  },
};
