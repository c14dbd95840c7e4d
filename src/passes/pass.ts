/**
 * The pass contract (after onnx-ir's pass infrastructure): a pass has a name and a stage of the
 * pipeline, says in a sentence what it needs and what it gives, may check both (`requires` on
 * its input, `ensures` on its result), and maps a model to a new model plus whether anything
 * changed. A pass never changes the model it is given: it works on a copy (ir/clone.ts).
 *
 * The checks run in the tests (LION_ONNX_CHECK_PASSES=1, set by vitest.config.ts) and with the
 * CLI's --verbose, which also prints one line per pass.
 */
import { LionOnnxError } from '../errors.js';
import { allGraphs, type Model } from '../ir/graph.js';

export type Stage = 'import' | 'training' | 'optimizer' | 'runtime' | 'export';

export interface PassResult {
  model: Model;
  modified: boolean;
}

export interface Pass<O = void> {
  readonly name: string;
  readonly stage: Stage;
  /** What the input must be, in a sentence. */
  readonly needs: string;
  /** What the output is, in a sentence. */
  readonly gives: string;
  /** Throws PassContractError when the input is not what the pass needs. */
  requires?(model: Model, opts: O): void;
  /** Throws PassContractError when the output is not what the pass promises. */
  ensures?(result: Model, input: Model, opts: O): void;
  run(model: Model, opts: O): PassResult;
}

/** A pass was given, or produced, a model that breaks its contract: a bug in the pipeline or in a caller of the API. */
export class PassContractError extends LionOnnxError {
  constructor(pass: string, what: 'requires' | 'ensures', why: string) {
    super('pass-contract', `pass ${pass} ${what}: ${why}`);
  }
}

export interface PassContext {
  /** Run requires/ensures (default: the LION_ONNX_CHECK_PASSES environment variable). */
  check?: boolean;
  /** One line per pass: name, changed or not, node count, time. */
  log?: (line: string) => void;
}

export function checksEnabled(ctx: PassContext = {}): boolean {
  return ctx.check ?? process.env.LION_ONNX_CHECK_PASSES === '1';
}

export function nodeCount(m: Model): number {
  let n = 0;
  for (const g of allGraphs(m.graph)) n += g.nodes.length;
  return n;
}

export function runPass<O>(pass: Pass<O>, model: Model, opts: O, ctx: PassContext = {}): PassResult {
  const check = checksEnabled(ctx);
  if (check) pass.requires?.(model, opts);
  const t0 = performance.now();
  const r = pass.run(model, opts);
  const ms = performance.now() - t0;
  if (check) pass.ensures?.(r.model, model, opts);
  ctx.log?.(`pass ${pass.name} (${pass.stage}): ${r.modified ? 'changed' : 'unchanged'}, ${nodeCount(model)} -> ${nodeCount(r.model)} nodes, ${ms.toFixed(1)} ms`);
  return r;
}

/** A helper for contracts: throws PassContractError unless `ok`. */
export function expectThat(pass: string, what: 'requires' | 'ensures', ok: boolean, why: string): void {
  if (!ok) throw new PassContractError(pass, what, why);
}

/** The context --verbose asks for: every contract checked, a line per pass on stderr. */
export function verbosePasses(verbose: boolean | undefined): PassContext | undefined {
  return verbose ? { check: true, log: (line) => process.stderr.write(`${line}\n`) } : undefined;
}
