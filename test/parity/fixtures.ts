/** The PyTorch fixtures (test/fixtures/torch/, made by scripts/torch/make_fixtures.py) and the
 * parity tolerances of the autodiff issue, shared by the parity tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';

export interface Trajectory {
  input: string;
  target: string;
  batch_size: number;
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  weight_decay: number;
  /** losses[i]: loss of the forward pass whose gradients drive update i. */
  losses: number[];
  final_param_l2: Record<string, number>;
  initial_param_l2: Record<string, number>;
  /** model.named_parameters() order. */
  params: string[];
  non_param_initializers: string[];
}

export const FIXTURES = ['mlp', 'cnn', 'transformer'] as const;
export const fixtureDir = (name: string): string => join(REPO, 'test/fixtures/torch', name);
export const trajectory = (name: string): Trajectory => JSON.parse(readFileSync(join(fixtureDir(name), 'trajectory.json'), 'utf8')) as Trajectory;

/** Acceptance: the first 5 losses within 1e-4 relative of PyTorch's, all of them within 1e-2. */
export const FIRST_STEPS = 5;
export const FIRST_TOL = 1e-4;
export const ALL_TOL = 1e-2;

/** Largest |got - want| / |want| over the first `n` entries. */
export function maxRelError(got: number[], want: number[], n = want.length): number {
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.abs(want[i]));
  return worst;
}
