/** `lion-onnx export`: trained weights (from a checkpoint or the initial state) into the inference model. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { openArtifacts, readInitialState } from '../artifacts/read.js';
import type { Tensor } from '../onnx/tensor.js';
import { latestCheckpoint, readCheckpoint } from '../runtime/checkpoint.js';
import { exportWeights } from '../runtime/training-session.js';

export function exportTrained(source: string, output: string, opts: { safetensors?: string } = {}): { from: string; step?: number } {
  let checkpointPath: string | null = null;
  let artifactsDir = source;
  if (existsSync(source) && statSync(source).isDirectory() && existsSync(join(source, 'manifest.json'))) {
    checkpointPath = latestCheckpoint(join(source, 'checkpoints'));
  } else checkpointPath = source;
  let weights: Map<string, Tensor>;
  let step: number | undefined;
  let from: string;
  if (checkpointPath) {
    const c = readCheckpoint(checkpointPath);
    artifactsDir = c.artifactsDir;
    weights = c.tensors;
    step = c.info.step;
    from = c.path;
  } else {
    const a = openArtifacts(artifactsDir);
    weights = readInitialState(a).tensors;
    from = `${a.path(a.manifest.state)} (initial state: no checkpoint yet)`;
  }
  const artifacts = openArtifacts(artifactsDir);
  const params = new Map(artifacts.manifest.parameters.map((p) => [p.name, weights.get(p.name)!]));
  for (const [name, t] of params) if (!t) throw new DataError(`${from}: no tensor for parameter '${name}'`);
  exportWeights(artifacts, params, output, opts);
  return { from, step };
}
