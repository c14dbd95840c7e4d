/** `lion-onnx rewrite`: a training graph (gradients as `<param>_grad`) -> artifacts directory. */
import { DataError } from '../errors.js';
import { loadModel } from '../ir/model-io.js';
import { writeArtifacts } from '../artifacts/write.js';
import { buildIdentity } from '../artifacts/build-id.js';
import type { Manifest } from '../artifacts/manifest.js';
import { compileRewrite, type RewriteOptions as PipelineRewriteOptions } from '../passes/pipeline.js';
import { readRegularFile } from '../util/safe-fs.js';
import type { OutputOptions } from './build.js';
import { DEFAULT_OPTIMIZER } from '../optim/registry.js';

export interface RewriteOptions extends PipelineRewriteOptions {
  /** JSON file with {"param": "gradient value", ...}; alternative to gradMap. */
  gradMapFile?: string;
}

export function readGradMap(path: string): Record<string, string> {
  const bytes = readRegularFile(path, { label: `--grad-map ${path}`, maxBytes: 64 * 2 ** 20 });
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DataError(`--grad-map ${path}: not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string'))
    throw new DataError(`--grad-map ${path}: expected a JSON object mapping parameter names to gradient value names`);
  return raw as Record<string, string>;
}

export function rewriteTrainingModel(modelPath: string, outDir: string, opts: RewriteOptions = {}, out: OutputOptions = {}): Manifest {
  const gradMap = opts.gradMapFile ? readGradMap(opts.gradMapFile) : opts.gradMap;
  const model = loadModel(modelPath);
  const program = compileRewrite(model, { ...opts, gradMap }, out.passes);
  const key = {
    gradSuffix: opts.gradSuffix ?? '_grad',
    gradMap,
    groups: opts.groups,
    hyperparameters: opts.hyperparameters,
    loss: opts.loss,
    nonFinite: opts.nonFinite ?? 'skip',
    optimizer: opts.optimizer ?? DEFAULT_OPTIMIZER,
    optimizerOptions: opts.optimizerOptions,
  };
  return writeArtifacts(outDir, program, {
    command: 'rewrite',
    build: out.build ?? buildIdentity('rewrite', key, modelPath),
    overwrite: out.overwrite,
    groups: opts.groups,
    inferenceSourceFile: modelPath,
  });
}
