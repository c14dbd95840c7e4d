/**
 * The artifacts directory: what `rewrite` and `build` write and `train` reads.
 *
 *   DIR/manifest.json       this file's Manifest (roles of every input and output)
 *   DIR/step.onnx           the step graph: data + params + momenta + hyperparameters in,
 *                           loss + new params + new momenta out
 *   DIR/loop.onnx           K steps in one ONNX Loop: data stacked [K, ...], lion.lr [K]
 *                           (passes/loop-steps.ts); same state inputs and outputs
 *   DIR/eval.onnx           (build) forward + loss, no update
 *   DIR/inference.onnx      the model export writes trained weights into (build: the original
 *                           inference model; rewrite: the training graph as given)
 *   DIR/grad.onnx           data + params in, loss + gradients out   (gradient accumulation)
 *   DIR/apply.onnx          params + momenta + gradients in, the update out  (same)
 *   DIR/state.safetensors   initial parameters (their model names) and momenta (`<p>.lion_m`)
 */
import { DataError } from '../errors.js';
import type { InputRole, IoEntry, LossInfo, NonFiniteMode, OutputRole, ParameterEntry, ParameterPlan } from '../ir/program.js';
import { OPTIMIZER_NAMES, optimizerByName, resolveOptions } from '../optim/registry.js';

export const MANIFEST_FORMAT = 'lion-onnx/artifacts';
/** 2: the build's identity (`build`), which checkpoints must match. */
export const MANIFEST_VERSION = 2;

export type { InputRole, IoEntry, OutputRole, ParameterEntry } from '../ir/program.js';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  createdBy: string;
  /**
   * The build's identity: a hash of what made it (lion-onnx version, command, the source model's
   * bytes, the options). Checkpoints record it, so a checkpoint is never applied to, or exported
   * through, another program; `train MODEL.onnx` reuses a directory only when it matches.
   */
  build: { id: string; source?: { file: string; sha256: string }; options: Record<string, unknown> };
  optimizer: {
    /** An optimizer of optim/registry.ts. */
    name: string;
    /** Build-time options it was emitted with (Lion: cautious). */
    options?: Record<string, boolean>;
    /** Defaults by key (beta1, beta2, weightDecay; eps for AdamW; momentum for SGD). */
    hyperparameters: Record<string, number>;
    noDecay?: string;
    frozen?: string;
    nonFinite?: NonFiniteMode;
  };
  graphs: { step: string; loop?: string; eval?: string; inference?: string; grad?: string; apply?: string };
  /**
   * How loop.onnx handles a non-finite gradient: 'replay' — it applies every update and outputs
   * a flag (one for the run, from its final state; per step in older builds); a runtime drops a
   * run with a flag set and replays its steps through step.onnx, whose guard skips them. Absent
   * (older builds): the loop skips inside (an If per step).
   */
  loopSkip?: 'replay';
  state: string;
  parameters: ParameterEntry[];
  inputs: IoEntry<InputRole>[];
  outputs: IoEntry<OutputRole>[];
  /** Names of the data inputs (batch tensors), in graph order. */
  dataInputs: string[];
  /** Loss output name, when the graph has one, and how it was built. */
  loss?: LossInfo;
  /**
   * build: every float tensor of the model, trained or not and why, where it came from, and
   * torch's name and layout for it (what `export --safetensors` writes).
   */
  tensors?: ParameterPlan[];
  /**
   * build: the data inputs whose batch, exported as 1, became symbolic (free-batch-dim), or why
   * it stays fixed (train then takes only that batch size).
   */
  batch?: { freed?: string[]; fixedBy?: string };
  /**
   * build --batch-axis: data inputs whose batch is not their first axis in the model's layout
   * (the arrays train is given); the step graph takes them batch first.
   */
  batchAxes?: Record<string, number>;
  /** build --constant: model inputs fixed to a value (initializers in every graph; gone from the export). */
  constants?: string[];
  /** rewrite --init: the weights file, its format, the tensors it gave values to and those the graph has no place for. */
  init?: { file: string; format: string; bound: string[]; unused: string[] };
  /** Hyperparameter key -> float64 scalar input of the step graph (lr always present). */
  hyperparameterInputs: Record<string, string>;
  /** Keys computed by the runtime each step (lr; step for AdamW): [K] vectors in loop.onnx. */
  perStep: string[];
}

/** Checks a parsed manifest's structure, so a broken file fails with one clear line. */
export function validateManifest(m: unknown, source: string): Manifest {
  const bad = (why: string) => new DataError(`${source}: invalid manifest (${why}); regenerate the directory with 'lion-onnx build' or 'lion-onnx rewrite'`);
  if (typeof m !== 'object' || m === null) throw bad('not a JSON object');
  const o = m as Record<string, unknown>;
  // Field values are not echoed: a file that is not a manifest may hold anything.
  if (o.format !== MANIFEST_FORMAT) throw bad(`no "format": "${MANIFEST_FORMAT}" marker: not a lion-onnx manifest`);
  if (o.version !== MANIFEST_VERSION)
    throw bad(`${typeof o.version === 'number' && Number.isSafeInteger(o.version) ? `version ${o.version}` : 'its version'} is not the version ${MANIFEST_VERSION} this lion-onnx reads`);
  const isStr = (x: unknown) => typeof x === 'string' && x.length > 0;
  const build = o.build as Record<string, unknown> | undefined;
  if (typeof build !== 'object' || build === null || !isStr(build.id) || typeof build.options !== 'object' || build.options === null) throw bad('build identity missing');
  const g = o.graphs as Record<string, unknown> | undefined;
  if (!g || !isStr(g.step)) throw bad('graphs.step missing');
  if (!isStr(o.state)) throw bad('state missing');
  if (o.loopSkip !== undefined && o.loopSkip !== 'replay') throw bad('loopSkip is not "replay"');
  for (const f of [g.step, g.loop, g.eval, g.inference, g.grad, g.apply, o.state]) if (f !== undefined && (!isStr(f) || /[\\/]|^\.\.?$/.test(f as string))) throw bad(`file name ${JSON.stringify(f)} must be a plain file name inside the directory`);
  const opt = o.optimizer as Record<string, unknown> | undefined;
  const hp = opt?.hyperparameters as Record<string, unknown> | undefined;
  if (!opt || !OPTIMIZER_NAMES.includes(opt.name as string) || typeof hp !== 'object' || hp === null || !Object.values(hp).every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw bad(`optimizer missing, not one of ${OPTIMIZER_NAMES.join(', ')}, or its hyperparameters not numeric`);
  if (opt.options !== undefined) {
    const o = opt.options as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || !Object.values(o).every((v) => typeof v === 'boolean')) throw bad('optimizer options are not true/false values');
    try {
      resolveOptions(optimizerByName(opt.name as string), o as Record<string, boolean>);
    } catch {
      throw bad(`optimizer options that ${String(opt.name)} does not have`);
    }
  }
  for (const k of ['parameters', 'inputs', 'outputs', 'dataInputs'] as const) if (!Array.isArray(o[k])) throw bad(`${k} is not a list`);
  for (const p of o.parameters as Record<string, unknown>[]) {
    if (typeof p !== 'object' || p === null || !isStr(p.name) || !Array.isArray(p.shape) || !p.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || !isStr(p.dtype) || !isStr(p.grad) || !['decay', 'no_decay', 'frozen'].includes(p.group as string))
      throw bad('a parameter entry lacks name, shape or group');
  }
  const isDim = (d: unknown) => d === null || (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0) || typeof d === 'string';
  for (const io of [...(o.inputs as Record<string, unknown>[]), ...(o.outputs as Record<string, unknown>[])])
    if (typeof io !== 'object' || io === null || !isStr(io.name) || !isStr(io.role) || !isStr(io.dtype) || (io.shape !== undefined && !(Array.isArray(io.shape) && io.shape.every(isDim))))
      throw bad('an input/output entry lacks name, role or dtype, or has an invalid shape');
  const h = o.hyperparameterInputs as Record<string, unknown> | undefined;
  if (!h || !isStr(h.lr) || !Object.values(h).every(isStr)) throw bad('hyperparameterInputs missing');
  if (!Array.isArray(o.perStep) || !o.perStep.every((k) => typeof k === 'string' && k in h)) throw bad('perStep missing');
  const inputs = o.inputs as Record<string, unknown>[];
  const dataNames = new Set(inputs.filter((i) => i.role === 'data').map((i) => i.name));
  if (!(o.dataInputs as unknown[]).every((d) => typeof d === 'string' && dataNames.has(d)) || (o.dataInputs as unknown[]).length !== dataNames.size)
    throw bad('dataInputs do not name exactly the inputs whose role is data');
  const names = new Set(inputs.map((i) => i.name));
  for (const p of o.parameters as Record<string, unknown>[])
    if (!names.has(p.name)) throw bad(`parameter '${String(p.name)}' is not among the inputs`);
  for (const p of o.parameters as Record<string, unknown>[])
    if (p.state !== undefined && (!Array.isArray(p.state) || !p.state.every((x) => typeof x === 'object' && x !== null && isStr((x as Record<string, unknown>).name) && isStr((x as Record<string, unknown>).output))))
      throw bad(`parameter '${String(p.name)}' has an invalid state list`);
  return m as Manifest;
}
