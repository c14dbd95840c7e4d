/**
 * Evaluation: the eval graph (forward + loss, parameters as inputs) over held-out batches — the
 * row-weighted mean loss, and for cross-entropy models the fraction of positions whose argmax
 * is the target. Nothing is updated.
 */
import type * as ort from 'onnxruntime-node';
import { DataError, UsageError } from '../errors.js';
import type { Artifacts } from '../artifacts/read.js';
import type { TypedArray } from '../onnx/data-types.js';
import { batchRows, type Batch } from './batch.js';

export interface EvalResult {
  loss: number;
  /** For cross-entropy models: fraction of positions whose argmax equals the target. */
  accuracy?: number;
  count: number;
}

/** Checks that the manifest's loss fits the eval graph (an edited manifest may name other outputs). */
export function checkEvalGraph(artifacts: Artifacts, session: ort.InferenceSession): void {
  const m = artifacts.manifest;
  const evalFile = m.graphs.eval!;
  const loss = m.loss;
  if (!loss) throw new DataError(`${artifacts.path('manifest.json')} names an eval graph but no loss; rebuild the artifacts directory`);
  for (const name of [loss.name, loss.kind === 'cross-entropy' ? loss.modelOutput : undefined])
    if (name !== undefined && !session.outputNames.includes(name)) throw new DataError(`${artifacts.path(evalFile)} has no output '${String(name)}' for the manifest's loss; rebuild the artifacts directory`);
  if (loss.kind === 'cross-entropy' && loss.target !== undefined && !m.dataInputs.includes(loss.target))
    throw new DataError(`${artifacts.path('manifest.json')}: the loss target '${String(loss.target)}' is not a data input; rebuild the artifacts directory`);
}

export async function evaluateBatches(
  artifacts: Artifacts,
  session: ort.InferenceSession | null,
  params: Record<string, ort.Tensor>,
  batches: Iterable<Batch> | AsyncIterable<Batch>,
  toFeeds: (b: Batch) => Record<string, ort.Tensor>,
): Promise<EvalResult> {
  if (!session) throw new UsageError('this artifacts directory has no eval graph (made by `rewrite`); evaluate needs one from `lion-onnx build`');
  const loss = artifacts.manifest.loss!;
  let lossSum = 0;
  let rowsSum = 0;
  let correct = 0;
  let positions = 0;
  for await (const batch of batches) {
    const feeds = toFeeds(batch);
    const rows = batchRows(feeds);
    const out = await session.run({ ...feeds, ...params });
    lossSum += rows * Number((out[loss.name].data as TypedArray)[0]);
    rowsSum += rows;
    if (loss.kind === 'cross-entropy' && loss.modelOutput && loss.target) {
      const logits = out[loss.modelOutput];
      const classes = logits.dims[logits.dims.length - 1];
      const x = logits.data as Float32Array;
      const t = feeds[loss.target].data as BigInt64Array | Int32Array;
      for (let i = 0; i < t.length; i++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (x[i * classes + c] > x[i * classes + best]) best = c;
        if (best === Number(t[i])) correct++;
      }
      positions += t.length;
    }
  }
  if (rowsSum === 0) throw new DataError('evaluate() got no batches');
  const r: EvalResult = { loss: lossSum / rowsSum, count: rowsSum };
  if (positions) r.accuracy = correct / positions;
  return r;
}
