/** `lion-onnx rewrite`: a training graph (gradients as `<param>_grad`) -> artifacts directory. */
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import { loadModel } from '../onnx/model-io.js';
import { writeArtifacts } from '../artifacts/write.js';
import type { Manifest } from '../artifacts/manifest.js';
import { insertOptimizer, type InsertOptimizerOptions } from '../passes/insert-optimizer.js';
import { applyGraph, gradientGraph } from '../passes/split-update.js';
import { defaultOpset } from '../ir/graph.js';

export interface RewriteOptions extends InsertOptimizerOptions {
  /** JSON file with {"param": "gradient value", ...}; alternative to gradMap. */
  gradMapFile?: string;
}

export function readGradMap(path: string): Record<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(`--grad-map ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(e as Error).message})`}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string'))
    throw new DataError(`--grad-map ${path}: expected a JSON object mapping parameter names to gradient value names`);
  return raw as Record<string, string>;
}

export function rewriteTrainingModel(modelPath: string, outDir: string, opts: RewriteOptions = {}): Manifest {
  const gradMap = opts.gradMapFile ? readGradMap(opts.gradMapFile) : opts.gradMap;
  const model = loadModel(modelPath);
  const program = insertOptimizer(model, { ...opts, gradMap });
  return writeArtifacts(outDir, program, {
    command: 'rewrite',
    groups: opts.groups,
    inferenceModel: model,
    inferenceSourceFile: modelPath,
    gradModel: gradientGraph(model, program),
    applyModel: applyGraph(program, Math.max(defaultOpset(model), 13)).model,
  });
}
