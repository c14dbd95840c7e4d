/**
 * What `build` trains, and what it leaves alone and why: one entry per float tensor of the
 * model (name, shape, where it came from — an initializer, a Constant node, a copy untied from
 * another, a weight folded by the exporter — torch's name for it, and the group it trains in),
 * and a warning for each large tensor on the loss's path that stays untrained.
 */
import type { Manifest } from '../artifacts/manifest.js';

/** Tensors at least this large that reach the loss but are not trained get a warning. */
const LARGE = 1024;

export interface TensorReport {
  name: string;
  shape: number[];
  dtype: string;
  trained: boolean;
  /** Why (trained or not). */
  reason: string;
  /** initializer, constant, untied (from X), folded (from Y). */
  source: string;
  from?: string;
  torch?: { name: string; transposed?: boolean; aliases?: string[] };
  /** decay / no_decay (trained tensors). */
  group?: string;
  note?: string;
}

export interface BuildReport {
  trained: { tensors: number; values: number };
  untrained: { tensors: number; values: number };
  tensors: TensorReport[];
  /** The batch dimension: exported as 1 and made symbolic (freed), or kept at 1 and why. */
  batch?: { freed?: string[]; fixedBy?: string };
  constants?: string[];
  batchAxes?: Record<string, number>;
  warnings: string[];
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function buildReport(m: Manifest): BuildReport {
  const groups = new Map(m.parameters.map((p) => [p.name, p.group]));
  const tensors: TensorReport[] = (m.tensors ?? []).map((p) => ({
    name: p.name,
    shape: p.shape,
    dtype: p.dtype,
    trained: p.trainable && groups.get(p.name) !== 'frozen' && groups.has(p.name),
    reason: p.reason,
    source: p.source,
    ...(p.from ? { from: p.from } : {}),
    ...(p.torch ? { torch: p.torch } : {}),
    ...(groups.has(p.name) ? { group: groups.get(p.name) } : {}),
    ...(p.note ? { note: p.note } : {}),
  }));
  const sum = (xs: TensorReport[]) => ({ tensors: xs.length, values: xs.reduce((s, t) => s + count(t.shape), 0) });
  const warnings = (m.tensors ?? [])
    .filter((p) => !p.trainable && p.reachesLoss && count(p.shape) >= LARGE && p.reason !== 'matches --frozen' && !p.reason.startsWith('BatchNormalization'))
    .map((p) => `${p.name} [${p.shape.join(', ')}] (${count(p.shape).toLocaleString('en-US')} values) reaches the loss but is not trained: ${p.reason}`);
  for (const p of m.tensors ?? []) if (p.note) warnings.push(`${p.name}: ${p.note}`);
  if (m.batch?.fixedBy) warnings.push(`the batch stays fixed at 1, so train takes only --batch-size 1: ${m.batch.fixedBy}`);
  return { trained: sum(tensors.filter((t) => t.trained)), untrained: sum(tensors.filter((t) => !t.trained)), tensors, ...(m.batch ? { batch: m.batch } : {}), ...(m.constants ? { constants: m.constants } : {}), ...(m.batchAxes ? { batchAxes: m.batchAxes } : {}), warnings };
}

function sourceText(t: TensorReport): string {
  if (t.source === 'untied') return `untied from ${t.from}`;
  if (t.source === 'folded' && t.from) return `folded from ${t.from}${t.torch?.transposed ? ' (transposed)' : ''}`;
  if (t.source === 'folded') return 'made by the exporter';
  if (t.source === 'constant') return 'Constant node';
  return t.source;
}

/** The report as a compact table. */
export function formatBuildReport(r: BuildReport): string {
  const rows = (ts: TensorReport[], last: (t: TensorReport) => string) => {
    const w = [0, 0, 0];
    const cells = ts.map((t) => [t.name, `[${t.shape.join(', ')}]`, sourceText(t), last(t)]);
    for (const c of cells) for (let i = 0; i < 3; i++) w[i] = Math.max(w[i], c[i].length);
    return cells.map((c) => `  ${c[0].padEnd(w[0])}  ${c[1].padEnd(w[1])}  ${c[2].padEnd(w[2])}  ${c[3]}`.trimEnd());
  };
  const trained = r.tensors.filter((t) => t.trained);
  const untrained = r.tensors.filter((t) => !t.trained);
  const lines = [`trains ${r.trained.tensors} tensors (${r.trained.values.toLocaleString('en-US')} values):`, ...rows(trained, (t) => `${t.group ?? ''}${t.torch?.aliases?.length ? `, also ${t.torch.aliases.join(', ')}` : ''}`)];
  if (untrained.length) lines.push(`leaves ${r.untrained.tensors} untrained (${r.untrained.values.toLocaleString('en-US')} values):`, ...rows(untrained, (t) => t.reason));
  if (r.constants?.length) lines.push(`constants: ${r.constants.join(', ')} (fixed by --constant; the exported model has them built in)`);
  if (r.batchAxes && Object.keys(r.batchAxes).length) lines.push(`batch axes: ${Object.entries(r.batchAxes).map(([n, a]) => `${n} on axis ${a}`).join(', ')} (train takes these arrays in the model's layout)`);
  if (r.batch?.freed) lines.push(`batch: exported as 1, now any size (${r.batch.freed.join(', ')})`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
