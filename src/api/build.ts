/** `lion-onnx build`: inference model -> artifacts directory (autodiff + loss + Lion). */
import { loadModel } from '../onnx/model-io.js';
import { writeArtifacts } from '../artifacts/write.js';
import type { Manifest } from '../artifacts/manifest.js';
import type { Model } from '../ir/graph.js';
import { buildTrainingProgram, type BuildOptions, type TrainingProgram } from '../passes/build-training.js';

export type { BuildOptions } from '../passes/build-training.js';

export function writeTrainingProgram(outDir: string, p: TrainingProgram, opts: BuildOptions, sourceFile?: string): Manifest {
  return writeArtifacts(outDir, p.step, {
    command: 'build',
    evalModel: p.evalModel,
    inferenceModel: p.inferenceModel,
    inferenceSourceFile: sourceFile,
    gradModel: p.gradModel,
    applyModel: p.apply.model,
    loss: p.loss,
    groups: { noDecay: opts.noDecay, frozen: opts.frozen },
  });
}

export function buildModel(model: Model, outDir: string, opts: BuildOptions): Manifest {
  return writeTrainingProgram(outDir, buildTrainingProgram(model, opts), opts);
}

export function buildFromFile(modelPath: string, outDir: string, opts: BuildOptions): Manifest {
  return writeTrainingProgram(outDir, buildTrainingProgram(loadModel(modelPath), opts), opts, modelPath);
}
