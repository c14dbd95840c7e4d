/** `lion-onnx rewrite`: a training graph (gradients as `<param>_grad`) -> artifacts directory. */
import { DataError } from '../errors.js';
import { loadModel } from '../ir/model-io.js';
import { writeArtifacts } from '../artifacts/write.js';
import { buildIdentity, fileSha256 } from '../artifacts/build-id.js';
import { readInitWeights } from './init-weights.js';
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Manifest } from '../artifacts/manifest.js';
import { compileRewrite, type RewriteOptions as PipelineRewriteOptions } from '../passes/pipeline.js';
import { readRegularFile } from '../util/safe-fs.js';
import type { OutputOptions } from './build.js';
import { DEFAULT_OPTIMIZER } from '../optim/registry.js';

export interface RewriteOptions extends PipelineRewriteOptions {
  /** JSON file with {"param": "gradient value", ...}; alternative to gradMap. */
  gradMapFile?: string;
  /** The parameters' initial values (ONNX Runtime's checkpoint, safetensors, an ONNX model): api/init-weights.ts. */
  initFile?: string;
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
  const init = opts.initFile !== undefined ? readInitWeights(opts.initFile) : opts.init;
  const program = compileRewrite(model, { ...opts, gradMap, init }, out.passes);
  const key = {
    gradSuffix: opts.gradSuffix ?? '_grad',
    gradMap,
    groups: opts.groups,
    hyperparameters: opts.hyperparameters,
    loss: opts.loss,
    nonFinite: opts.nonFinite ?? 'skip',
    optimizer: opts.optimizer ?? DEFAULT_OPTIMIZER,
    optimizerOptions: opts.optimizerOptions,
    init: opts.initFile !== undefined ? { file: basename(opts.initFile), sha256: existsSync(opts.initFile) && statSync(opts.initFile).isFile() ? fileSha256(opts.initFile) : undefined } : undefined,
  };
  return writeArtifacts(outDir, program, {
    command: 'rewrite',
    build: out.build ?? buildIdentity('rewrite', key, modelPath),
    overwrite: out.overwrite,
    groups: opts.groups,
    // The source's bytes, when export writes into the graph as given.
    inferenceSourceFile: program.inference === model ? modelPath : undefined,
  });
}
