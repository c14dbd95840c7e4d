/** `lion-onnx plot`: the curves of --log files into an SVG (report/plot.ts), written safely. */
import { isLionOnnxPlot, plotRuns, readRunLog } from '../report/plot.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { checkOutputFile } from '../util/output-path.js';

export function plotLogs(logs: string[], output: string, opts: { title?: string; overwrite?: boolean } = {}): { runs: number } {
  checkOutputFile(output, { flag: '-o', protect: logs.map((r) => ({ path: r, what: 'one of the logs it plots' })), isOwn: isLionOnnxPlot, overwrite: opts.overwrite });
  const runs = logs.map(readRunLog);
  writeFileAtomic(output, plotRuns(runs, { title: opts.title }));
  return { runs: runs.length };
}
