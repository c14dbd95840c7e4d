/**
 * An independent Float64 Lion (google/automl lion_pytorch.py, DESIGN.md) used as the reference
 * in numeric tests. Plain loops over Float64Arrays; nothing shared with src/.
 */
export interface Lion64State {
  p: Float64Array;
  m: Float64Array;
}

export interface Lion64Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
}

/** One Lion step in float64; returns the new state (inputs untouched) and c for inspection. */
export function lion64Step(s: Lion64State, g: ArrayLike<number>, h: Lion64Hyper): Lion64State & { c: Float64Array } {
  const n = s.p.length;
  const p = new Float64Array(n);
  const m = new Float64Array(n);
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    c[i] = h.beta1 * s.m[i] + (1 - h.beta1) * g[i];
    p[i] = s.p[i] * (1 - h.lr * h.weightDecay) - h.lr * Math.sign(c[i]);
    m[i] = h.beta2 * s.m[i] + (1 - h.beta2) * g[i];
  }
  return { p, m, c };
}

/**
 * Distance between a float32 result and a float64 value, in float32 units in the last place of
 * `scale` (default: the value itself). A sum like β2·m + (1−β2)·g rounds each term, so its
 * error is measured against the larger term, not against a possibly tiny result.
 */
export function ulpsApart(actual32: number, expected64: number, scale = expected64): number {
  const ulp = Math.max(Math.abs(Math.fround(scale)) * 2 ** -23, 2 ** -149);
  return Math.abs(actual32 - expected64) / ulp;
}

/**
 * One C-Lion step in float64 (Liang et al., "Cautious Optimizers", arXiv 2411.16085; the authors'
 * c_lion.py): Lion's sign(c), kept only where it agrees with the gradient's sign, rescaled by
 * numel / (kept + 1) over the tensor.
 */
export function clion64Step(s: Lion64State, g: ArrayLike<number>, h: Lion64Hyper): Lion64State & { c: Float64Array; kept: number } {
  const n = s.p.length;
  const c = new Float64Array(n);
  const mask = new Float64Array(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    c[i] = h.beta1 * s.m[i] + (1 - h.beta1) * g[i];
    mask[i] = Math.sign(c[i]) * g[i] > 0 ? 1 : 0;
    kept += mask[i];
  }
  const scale = n / (kept + 1);
  const p = new Float64Array(n);
  const m = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = s.p[i] * (1 - h.lr * h.weightDecay) - h.lr * Math.sign(c[i]) * mask[i] * scale;
    m[i] = h.beta2 * s.m[i] + (1 - h.beta2) * g[i];
  }
  return { p, m, c, kept };
}
