/**
 * Learning-rate schedules, evaluated per step in JS and fed to the step graph's `lion.lr`
 * input, so changing the learning rate never rebuilds a graph.
 */
import { UsageError } from '../errors.js';

export type ScheduleSpec =
  | { kind: 'constant'; warmup?: number }
  | { kind: 'linear'; warmup?: number; totalSteps: number; finalLr?: number }
  | { kind: 'cosine'; warmup?: number; totalSteps: number; finalLr?: number };

/** A user schedule: learning rate for a 0-based step, given the base learning rate. */
export type ScheduleFn = (step: number, baseLr: number) => number;

export type Schedule = ScheduleSpec | ScheduleFn;

/**
 * Learning rate at 0-based `step`. Warmup rises linearly from baseLr/warmup to baseLr over
 * `warmup` steps; then linear or cosine decay reaches finalLr (default 0) at totalSteps.
 */
export function learningRate(schedule: Schedule, baseLr: number, step: number): number {
  if (typeof schedule === 'function') {
    const lr = schedule(step, baseLr);
    if (!Number.isFinite(lr) || lr < 0) throw new UsageError(`the learning-rate schedule returned ${lr} at step ${step}; it must be a finite number >= 0`);
    return lr;
  }
  checkSpec(schedule);
  const warmup = schedule.warmup ?? 0;
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  if (schedule.kind === 'constant') return baseLr;
  const final = schedule.finalLr ?? 0;
  const span = Math.max(1, schedule.totalSteps - warmup);
  const t = Math.min(1, (step - warmup) / span);
  if (schedule.kind === 'linear') return final + (baseLr - final) * (1 - t);
  return final + (baseLr - final) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** A spec that would feed the graph a negative or non-finite learning rate is refused (Lion's update needs lr >= 0). */
function checkSpec(s: ScheduleSpec): void {
  const warmup = s.warmup ?? 0;
  if (!Number.isSafeInteger(warmup) || warmup < 0) throw new UsageError(`schedule warmup must be a whole number of steps >= 0, got ${s.warmup}`);
  if (s.kind === 'constant') return;
  if (!Number.isSafeInteger(s.totalSteps) || s.totalSteps < 1) throw new UsageError(`schedule totalSteps must be a whole number >= 1, got ${s.totalSteps}`);
  const f = s.finalLr ?? 0;
  if (!Number.isFinite(f) || f < 0) throw new UsageError(`schedule finalLr must be a finite number >= 0, got ${s.finalLr}`);
}

export function parseSchedule(kind: string, opts: { warmup?: number; totalSteps: number }): ScheduleSpec {
  const warmup = opts.warmup ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw new UsageError(`--warmup must be a whole number of steps >= 0, got ${opts.warmup}`);
  if (kind === 'constant') return { kind, warmup };
  if (kind === 'linear' || kind === 'cosine') return { kind, warmup, totalSteps: opts.totalSteps };
  throw new UsageError(`--schedule '${kind}' is not one of constant, linear, cosine`);
}
