/**
 * Progress display for training: a bar (cli-progress) with step, loss, lr, steps/s and ETA on
 * a terminal; plain lines every few seconds otherwise (CI logs, pipes).
 */
import cliProgress from 'cli-progress';
import type { StepInfo } from '../runtime/training-session.js';

export interface Progress {
  start(total: number, startStep: number): void;
  update(info: StepInfo & { total: number; elapsed: number }): void;
  stop(): void;
}

const fmt = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2));

export function makeProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let startStep = 0;
  let lastPrint = 0;
  let lastPrintedStep = 0;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'step {value}/{total} |{bar}| loss {loss} lr {lr} {rate} steps/s ETA {eta_formatted}',
        hideCursor: true,
        stream,
        etaBuffer: 50,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total, s) => {
        startStep = s;
        bar.start(total, s, { loss: '-', lr: '-', rate: '-' });
      },
      update: (i) => bar.update(i.step, { loss: fmt(i.loss), lr: fmt(i.lr), rate: ((i.step - startStep) / Math.max(i.elapsed, 1e-9)).toFixed(1) }),
      stop: () => bar.stop(),
    };
  }
  return {
    start: (total, s) => {
      startStep = s;
      stream.write(`training ${total - s} steps (from step ${s})\n`);
    },
    update: (i) => {
      if (i.elapsed - lastPrint < 2 && i.step !== i.total) return;
      lastPrint = i.elapsed;
      const rate = (i.step - startStep) / Math.max(i.elapsed, 1e-9);
      const eta = (i.total - i.step) / Math.max(rate, 1e-9);
      stream.write(`step ${i.step}/${i.total} loss ${fmt(i.loss)} lr ${fmt(i.lr)} ${rate.toFixed(1)} steps/s ETA ${eta.toFixed(0)}s\n`);
      lastPrintedStep = i.step;
    },
    stop: () => void lastPrintedStep,
  };
}
