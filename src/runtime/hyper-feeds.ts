/**
 * The hyperparameter feeds of a run, from the optimizer's declaration (optim/): per-step keys
 * — `lr` from the schedule, `step` the 1-based step count — as scalars for one step, or as [k]
 * vectors for the loop graph; the others as float64 scalars from the session's values.
 */
import * as ort from 'onnxruntime-node';
import { DataError } from '../errors.js';
import type { Manifest } from '../artifacts/manifest.js';
import type { Hyperparameters, Optimizer } from '../optim/types.js';
import { scalarF64 } from './ort-tensor.js';
import { learningRate, type Schedule } from './schedule.js';

export interface HyperFeedSource {
  manifest: Manifest;
  optimizer: Optimizer;
  hyperparameters: Hyperparameters;
  schedule: Schedule;
  baseLr: number;
}

/** Feeds for `k` steps starting after `stepsDone`, and the learning rates they use. */
export function hyperparameterFeeds(s: HyperFeedSource, stepsDone: number, k: number, vector: boolean): { feeds: Record<string, ort.Tensor>; lrs: Float64Array } {
  const feeds: Record<string, ort.Tensor> = {};
  const lrs = new Float64Array(k);
  for (let i = 0; i < k; i++) lrs[i] = learningRate(s.schedule, s.baseLr, stepsDone + i);
  for (const [key, input] of Object.entries(s.manifest.hyperparameterInputs)) {
    const perStep = s.optimizer.hyperparameters.find((h) => h.key === key)?.perStep;
    if (perStep) {
      const values = perStep === 'lr' ? lrs : Float64Array.from({ length: k }, (_, i) => stepsDone + i + 1);
      feeds[input] = vector ? new ort.Tensor('float64', values, [k]) : scalarF64(values[0]);
      continue;
    }
    const v = s.hyperparameters[key];
    if (v === undefined) throw new DataError(`no value for hyperparameter '${key}' of ${s.optimizer.name}; the manifest is inconsistent`);
    feeds[input] = scalarF64(v);
  }
  return { feeds, lrs };
}
