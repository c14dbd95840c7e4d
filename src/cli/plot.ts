import type { CommandModule } from 'yargs';
import { isLionOnnxPlot, plotRuns, readRunLog } from '../report/plot.js';
import { checkOutputFile } from '../util/output-path.js';
import { writeFileAtomic } from '../util/atomic-write.js';

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
    checkOutputFile(a.output, { flag: '-o', protect: a.runs.map((r) => ({ path: r, what: 'one of the logs it plots' })), isOwn: isLionOnnxPlot, overwrite: a.overwrite });
    const runs = a.runs.map(readRunLog);
    writeFileAtomic(a.output, plotRuns(runs, { title: a.title }));
    process.stdout.write(`wrote ${a.output} (${runs.length} run${runs.length > 1 ? 's' : ''})\n`);
  },
};
