/**
 * Learning-rate schedules (src/runtime/schedule.ts): a table of values worked out by hand from
 * the definition (warmup b·(s+1)/W, then linear or cosine decay over T − W steps to the final
 * lr, held after T), and torch.optim.lr_scheduler's own per-step values
 * (test/fixtures/torch/schedules.json, scripts/torch/make_schedule_fixture.py: LinearLR,
 * CosineAnnealingLR, ConstantLR, SequentialLR) where torch defines the same schedule. Steps are
 * 0-based: the learning rate of the step about to be taken.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { learningRate, parseSchedule, type ScheduleSpec } from '../../src/runtime/schedule.js';
import { REPO } from '../helpers/cli.js';

const cos = (t: number) => 0.5 * (1 + Math.cos(Math.PI * t));

interface Row {
  what: string;
  spec: ScheduleSpec;
  base: number;
  /** [step, expected lr] */
  at: [number, number][];
}

const TABLE: Row[] = [
  { what: 'constant', spec: { kind: 'constant' }, base: 3e-4, at: [[0, 3e-4], [1, 3e-4], [999, 3e-4]] },
  {
    what: 'constant, warmup 4',
    spec: { kind: 'constant', warmup: 4 },
    base: 1,
    at: [[0, 0.25], [1, 0.5], [2, 0.75], [3, 1], [4, 1], [100, 1]],
  },
  { what: 'constant, warmup 1 (the first step already at base)', spec: { kind: 'constant', warmup: 1 }, base: 2, at: [[0, 2], [1, 2]] },
  {
    what: 'linear, T 8',
    spec: { kind: 'linear', totalSteps: 8 },
    base: 1,
    at: [[0, 1], [1, 7 / 8], [4, 0.5], [7, 1 / 8], [8, 0], [9, 0], [50, 0]],
  },
  {
    what: 'linear, warmup 4, T 12',
    spec: { kind: 'linear', warmup: 4, totalSteps: 12 },
    base: 1,
    // Warmup ends at base on step W−1; decay starts from base on step W.
    at: [[0, 0.25], [3, 1], [4, 1], [5, 7 / 8], [8, 0.5], [11, 1 / 8], [12, 0], [13, 0], [40, 0]],
  },
  {
    what: 'linear to a final lr, T 10',
    spec: { kind: 'linear', totalSteps: 10, finalLr: 1e-4 },
    base: 1e-3,
    at: [[0, 1e-3], [5, 5.5e-4], [9, 1e-4 + 9e-5], [10, 1e-4], [15, 1e-4]],
  },
  {
    what: 'cosine, T 8',
    spec: { kind: 'cosine', totalSteps: 8 },
    base: 1,
    at: [[0, 1], [1, cos(1 / 8)], [2, 0.5 + Math.SQRT2 / 4], [4, 0.5], [7, cos(7 / 8)], [8, 0], [9, 0], [1000, 0]],
  },
  {
    what: 'cosine, warmup 4, T 12',
    spec: { kind: 'cosine', warmup: 4, totalSteps: 12 },
    base: 1,
    at: [[0, 0.25], [1, 0.5], [2, 0.75], [3, 1], [4, 1], [5, cos(1 / 8)], [6, 0.5 + Math.SQRT2 / 4], [8, 0.5], [11, cos(7 / 8)], [12, 0], [13, 0], [99, 0]],
  },
  {
    what: 'cosine, warmup 2, T 6, to a final lr',
    spec: { kind: 'cosine', warmup: 2, totalSteps: 6, finalLr: 0.1 },
    base: 0.9,
    at: [[0, 0.45], [1, 0.9], [2, 0.9], [3, 0.1 + 0.8 * cos(1 / 4)], [4, 0.5], [5, 0.1 + 0.8 * cos(3 / 4)], [6, 0.1], [7, 0.1]],
  },
  {
    // No decay steps: the decay spans one step (torch's schedulers divide by zero here).
    what: 'linear, warmup = T = 4',
    spec: { kind: 'linear', warmup: 4, totalSteps: 4 },
    base: 1,
    at: [[0, 0.25], [3, 1], [4, 1], [5, 0], [6, 0]],
  },
];

describe('learningRate: values from the definition', () => {
  it.each(TABLE)('$what', ({ spec, base, at }) => {
    for (const [step, want] of at) {
      const got = learningRate(spec, base, step);
      expect(Math.abs(got - want), `step ${step}: got ${got}, want ${want}`).toBeLessThanOrEqual(1e-15 * base);
    }
  });

  it('never leaves [finalLr, base] and never rises after warmup', () => {
    for (const kind of ['linear', 'cosine'] as const) {
      const spec: ScheduleSpec = { kind, warmup: 7, totalSteps: 50, finalLr: 1e-5 };
      let prev = Infinity;
      for (let s = 7; s < 80; s++) {
        const lr = learningRate(spec, 1e-3, s);
        expect(lr).toBeLessThanOrEqual(1e-3);
        expect(lr).toBeGreaterThanOrEqual(1e-5);
        expect(lr, `${kind} step ${s}`).toBeLessThanOrEqual(prev);
        prev = lr;
      }
    }
  });
});

interface TorchCase {
  kind: 'constant' | 'linear' | 'cosine';
  base_lr: number;
  warmup: number;
  total_steps: number;
  final_lr: number;
  torch: string;
  lrs: number[];
}

const torchCases = (JSON.parse(readFileSync(join(REPO, 'test/fixtures/torch/schedules.json'), 'utf8')) as { cases: TorchCase[] }).cases;

describe('learningRate against torch.optim.lr_scheduler', () => {
  it('the fixture covers every kind with and without warmup, cosine up to T and the others past it', () => {
    for (const kind of ['constant', 'linear', 'cosine']) {
      expect(torchCases.some((c) => c.kind === kind && c.warmup === 0), kind).toBe(true);
      expect(torchCases.some((c) => c.kind === kind && c.warmup > 1), kind).toBe(true);
    }
    for (const c of torchCases) expect(c.lrs.length, c.torch).toBe(c.kind === 'cosine' ? c.total_steps + 1 : c.total_steps + 4);
  });

  it.each(torchCases.map((c) => [c.torch, c] as const))('%s', (_, c) => {
    const spec: ScheduleSpec = c.kind === 'constant' ? { kind: 'constant', warmup: c.warmup } : { kind: c.kind, warmup: c.warmup, totalSteps: c.total_steps, finalLr: c.final_lr };
    // torch chains its schedulers recursively (each lr from the last), so it differs from a
    // closed form by float64 rounding only.
    c.lrs.forEach((want, step) => {
      const got = learningRate(spec, c.base_lr, step);
      expect(Math.abs(got - want), `step ${step}: got ${got}, torch ${want}`).toBeLessThanOrEqual(1e-12 * c.base_lr);
    });
  });
});

describe('parseSchedule', () => {
  it('builds the spec the CLI trains with: warmup and the run’s total steps', () => {
    expect(parseSchedule('cosine', { warmup: 5, totalSteps: 20 })).toEqual({ kind: 'cosine', warmup: 5, totalSteps: 20 });
    expect(parseSchedule('linear', { totalSteps: 9 })).toEqual({ kind: 'linear', warmup: 0, totalSteps: 9 });
    expect(parseSchedule('constant', { warmup: 2, totalSteps: 9 })).toEqual({ kind: 'constant', warmup: 2 });
    // And that spec gives torch's values for the run of the CLI test.
    const c = torchCases.find((x) => x.kind === 'cosine' && x.warmup === 5 && x.total_steps === 20 && x.final_lr === 0)!;
    const spec = parseSchedule('cosine', { warmup: 5, totalSteps: 20 });
    c.lrs.forEach((want, step) => expect(Math.abs(learningRate(spec, c.base_lr, step) - want)).toBeLessThanOrEqual(1e-12 * c.base_lr));
  });

  it.each([-1, 1.5, Number.NaN])('refuses --warmup %s', (warmup) => {
    expect(() => parseSchedule('cosine', { warmup, totalSteps: 10 })).toThrow(UsageError);
    expect(() => parseSchedule('cosine', { warmup, totalSteps: 10 })).toThrow(/^--warmup must be a whole number of steps >= 0/);
  });

  it('refuses an unknown kind, naming the ones there are', () => {
    expect(() => parseSchedule('step', { totalSteps: 10 })).toThrow(UsageError);
    expect(() => parseSchedule('step', { totalSteps: 10 })).toThrow("--schedule 'step' is not one of constant, linear, cosine");
  });
});

describe('learningRate with a schedule function', () => {
  it('passes the 0-based step and the base lr, and returns what it returns (0 included)', () => {
    const seen: [number, number][] = [];
    const f = (step: number, base: number) => {
      seen.push([step, base]);
      return step === 3 ? 0 : base / (step + 1);
    };
    expect([0, 1, 2, 3].map((s) => learningRate(f, 0.6, s))).toEqual([0.6, 0.3, 0.6 / 3, 0]);
    expect(seen).toEqual([[0, 0.6], [1, 0.6], [2, 0.6], [3, 0.6]]);
  });

  it.each([-1e-9, Number.NaN, Infinity])('refuses a returned lr of %s, naming the step', (bad) => {
    expect(() => learningRate(() => bad, 1e-3, 17)).toThrow(UsageError);
    expect(() => learningRate(() => bad, 1e-3, 17)).toThrow(`returned ${bad} at step 17`);
  });
});

describe('learningRate with a schedule spec from the API', () => {
  it.each([
    [{ kind: 'linear', totalSteps: 10, finalLr: -1e-3 }, /finalLr must be a finite number >= 0/],
    [{ kind: 'cosine', totalSteps: Number.NaN }, /totalSteps must be a whole number >= 1/],
    [{ kind: 'cosine', totalSteps: 0 }, /totalSteps must be a whole number >= 1/],
    [{ kind: 'constant', warmup: 2.5 }, /warmup must be a whole number/],
  ] as const)('refuses %j, which would feed a negative or NaN lr', (spec, msg) => {
    expect(() => learningRate(spec as never, 1e-3, 10)).toThrow(UsageError);
    expect(() => learningRate(spec as never, 1e-3, 10)).toThrow(msg);
  });
});
