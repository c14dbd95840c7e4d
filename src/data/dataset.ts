/**
 * In-memory datasets: named arrays batched along axis 0, optionally shuffled with a seeded
 * permutation per epoch. The position (epoch, batch) is plain data, so a checkpoint can
 * restore the exact data order. Shuffled batches are gathered into buffers reused across
 * calls: a batch is valid until the next call to next().
 */
import { DataError } from '../errors.js';
import type { TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Batch } from '../runtime/batch.js';

export interface DatasetPosition {
  epoch: number;
  /** Index of the next batch within the epoch. */
  batch: number;
}

/**
 * A last batch shorter than the batch size (rows not a multiple of it): 'drop' it, so every step
 * sees the same number of rows (the default, as torch's DataLoader with drop_last=True), or
 * 'keep' it, so every row is used every epoch (drop_last=False).
 */
export type LastBatch = 'drop' | 'keep';

export interface DatasetOptions {
  batchSize: number;
  shuffle?: boolean;
  seed?: number;
  lastBatch?: LastBatch;
  /** How the arrays are named in messages (default: "the data"). */
  label?: string;
}

/** mulberry32: small, fast, and the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r = prng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export class ArrayDataset {
  readonly rows: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly lastBatch: LastBatch;
  /** Batches per epoch: the full ones, and with lastBatch 'keep' a shorter last one. */
  readonly batchesPerEpoch: number;
  position: DatasetPosition = { epoch: 0, batch: 0 };
  private readonly arrays: Map<string, Tensor>;
  private order: Uint32Array | null = null;
  private orderEpoch = -1;
  private readonly buffers = new Map<string, TypedArray>();

  constructor(arrays: Map<string, Tensor>, opts: DatasetOptions) {
    this.arrays = arrays;
    const label = opts.label ?? 'the data';
    const counts = new Set([...arrays.values()].map((t) => t.dims[0] ?? 0));
    if (counts.size !== 1)
      throw new DataError(`${label}: the arrays have different numbers of rows: ${[...arrays].map(([k, t]) => `${k} ${t.dims[0]}`).join(', ')}; every array must have one row per example`);
    this.rows = [...counts][0];
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new DataError(`--batch-size must be a whole number >= 1, got ${opts.batchSize}`);
    this.batchSize = opts.batchSize;
    if (this.rows < this.batchSize) throw new DataError(`${label} has ${this.rows} rows, fewer than one batch of ${this.batchSize}; lower --batch-size`);
    this.lastBatch = opts.lastBatch ?? 'drop';
    if (this.lastBatch !== 'drop' && this.lastBatch !== 'keep') throw new DataError(`--last-batch must be drop or keep, got ${String(opts.lastBatch)}`);
    this.batchesPerEpoch = (this.lastBatch === 'keep' ? Math.ceil : Math.floor)(this.rows / this.batchSize);
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
  }

  private orderFor(epoch: number): Uint32Array | null {
    if (!this.shuffle) return null;
    if (this.orderEpoch !== epoch) {
      // One permutation per (seed, epoch): resuming at any epoch needs no history.
      this.order = permutation(this.rows, (Math.imul(this.seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** Rows in batch `batch` of an epoch: the batch size, except a kept shorter last batch. */
  rowsIn(batch: number): number {
    return Math.min(this.batchSize, this.rows - batch * this.batchSize);
  }

  /**
   * How many batches from the current position have the full batch size before a shorter one
   * comes: 0 when the next batch is the shorter last batch, Infinity when there is none. Only
   * batches of one size stack (nextSteps), so a trainer runs at most this many at once.
   */
  fullBatchesAhead(): number {
    if (this.rowsIn(this.batchesPerEpoch - 1) === this.batchSize) return Infinity;
    return this.batchesPerEpoch - 1 - this.position.batch;
  }

  /** The next batch; wraps into the next epoch. */
  next(): Batch {
    return this.nextSteps(1, false);
  }

  /**
   * The next `k` batches stacked on a new leading axis ([k, batch, ...] per array), for
   * TrainingSession.stepStacked. The buffers are reused by the next call. The k batches must
   * have one size: with a kept shorter last batch, take at most fullBatchesAhead() at once, and
   * that batch alone.
   */
  nextSteps(k: number, stacked = true): Batch {
    const out: Batch = {};
    const rows = this.rowsIn(this.position.batch);
    if (k > 1 && this.fullBatchesAhead() < k)
      throw new DataError(`${k} batches from batch ${this.position.batch} of the epoch cross the shorter last batch (${this.rowsIn(this.batchesPerEpoch - 1)} rows), and batches of different sizes do not stack; take at most fullBatchesAhead() = ${this.fullBatchesAhead()} at once, then that batch alone`);
    const plan: { order: Uint32Array | null; start: number }[] = [];
    for (let s = 0; s < k; s++) {
      const { epoch, batch } = this.position;
      plan.push({ order: this.orderFor(epoch), start: batch * this.batchSize });
      this.position = batch + 1 >= this.batchesPerEpoch ? { epoch: epoch + 1, batch: 0 } : { epoch, batch: batch + 1 };
    }
    for (const [name, t] of this.arrays) {
      const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
      const data = t.data as TypedArray;
      const dims = stacked ? [k, rows, ...t.dims.slice(1)] : [rows, ...t.dims.slice(1)];
      if (k === 1 && !plan[0].order) {
        // Unshuffled single batch: a view, no copy.
        out[name] = { data: data.subarray(plan[0].start * row, (plan[0].start + rows) * row), dims };
        continue;
      }
      const key = `${name}/${k}/${rows}`;
      let buf = this.buffers.get(key);
      if (!buf) {
        buf = new (data.constructor as new (n: number) => TypedArray)(k * rows * row);
        this.buffers.set(key, buf);
      }
      // Row by row with an index loop over 32-bit words (or bytes): a subarray per row would
      // allocate an object for every example of every step (most of the training loop's
      // garbage), and reading int64 or float elements directly would box BigInts and numbers.
      const to = words(buf);
      const from = words(data);
      const unit = (row * data.BYTES_PER_ELEMENT) / to.BYTES_PER_ELEMENT;
      for (let s = 0; s < k; s++) {
        const { order, start } = plan[s];
        for (let i = 0; i < rows; i++) {
          const src = (order ? order[start + i] : start + i) * unit;
          const dst = (s * rows + i) * unit;
          for (let j = 0; j < unit; j++) to[dst + j] = from[src + j];
        }
      }
      out[name] = { data: buf, dims };
    }
    return out;
  }

  /** All rows in order, in batches (the last one may be smaller); for evaluation. */
  *inOrder(batchSize = this.batchSize): Generator<Batch> {
    for (let start = 0; start < this.rows; start += batchSize) {
      const end = Math.min(this.rows, start + batchSize);
      const out: Batch = {};
      for (const [name, t] of this.arrays) {
        const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
        out[name] = { data: (t.data as TypedArray).subarray(start * row, end * row), dims: [end - start, ...t.dims.slice(1)] };
      }
      yield out;
    }
  }
}

/** The array's bytes as 32-bit words when its elements are whole words, else as bytes. */
function words(a: TypedArray): Int32Array | Uint8Array {
  return a.BYTES_PER_ELEMENT % 4 === 0 && a.byteOffset % 4 === 0
    ? new Int32Array(a.buffer, a.byteOffset, a.byteLength / 4)
    : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
