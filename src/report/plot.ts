/**
 * Loss (and learning-rate) curves of one or more runs as a standalone SVG: runs overlaid on
 * one loss axis (log scale when the losses span more than a decade), lr in a strip below.
 */
import { basename } from 'node:path';
import { DataError } from '../errors.js';
import { readRegularFile } from '../util/safe-fs.js';
import { fileHead } from '../util/output-path.js';

export interface RunLog {
  name: string;
  steps: number[];
  loss: number[];
  lr: number[];
}

/** The comment every plot starts with: what lets `plot` replace a file it wrote before. */
const PLOT_MARK = '<!-- lion-onnx plot -->';

export function isLionOnnxPlot(path: string): boolean {
  return fileHead(path, 4096).toString('utf8').includes(PLOT_MARK);
}

export function readRunLog(path: string): RunLog {
  const text = readRegularFile(path).toString('utf8');
  const run: RunLog = { name: basename(path).replace(/\.jsonl$/, ''), steps: [], loss: [], lr: [] };
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let o: { step?: unknown; loss?: unknown; lr?: unknown };
    try {
      o = JSON.parse(line);
    } catch {
      throw new DataError(`${path}:${i + 1}: not a JSON object (expected lines written by lion-onnx train --log)`);
    }
    if (typeof o.step !== 'number' || typeof o.loss !== 'number') throw new DataError(`${path}:${i + 1}: lacks numeric "step" and "loss"`);
    run.steps.push(o.step);
    run.loss.push(o.loss);
    run.lr.push(typeof o.lr === 'number' ? o.lr : Number.NaN);
  });
  if (!run.steps.length) throw new DataError(`${path}: no steps logged`);
  return run;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

function ticks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / n));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-12; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

export function plotRuns(runs: RunLog[], opts: { title?: string; width?: number } = {}): string {
  const W = opts.width ?? 800;
  const H = 520;
  const m = { l: 70, r: 20, t: 40, b: 40 };
  const lossH = 330;
  const lrTop = m.t + lossH + 40;
  const lrH = H - lrTop - m.b;
  const allSteps = runs.flatMap((r) => r.steps);
  const finite = runs.flatMap((r) => r.loss).filter((x) => Number.isFinite(x));
  const [s0, s1] = [Math.min(...allSteps), Math.max(...allSteps)];
  const [l0, l1] = [Math.min(...finite), Math.max(...finite)];
  const log = l0 > 0 && l1 / l0 > 10;
  const fy = (v: number) => (log ? Math.log10(v) : v);
  const [y0, y1] = [fy(l0), fy(l1)];
  const x = (s: number) => m.l + ((s - s0) / (s1 - s0 || 1)) * (W - m.l - m.r);
  const y = (v: number) => m.t + lossH - ((fy(v) - y0) / (y1 - y0 || 1)) * lossH;
  const lrs = runs.flatMap((r) => r.lr).filter((v) => Number.isFinite(v));
  const lrMax = Math.max(...lrs, 0) || 1;
  const ly = (v: number) => lrTop + lrH - (v / lrMax) * lrH;
  const path = (xs: number[], ys: number[], fx: (n: number) => number, fyy: (n: number) => number) =>
    xs
      .map((s, i) => (Number.isFinite(ys[i]) ? `${fx(s).toFixed(1)},${fyy(ys[i]).toFixed(1)}` : null))
      .filter(Boolean)
      .map((p, i) => (i ? 'L' : 'M') + p)
      .join('');
  const parts: string[] = [];
  parts.push(PLOT_MARK);
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title ?? 'training loss')}</text>`);
  const yt = log ? ticks(Math.floor(y0), Math.ceil(y1), 6).filter((t) => Number.isInteger(t)).map((t) => 10 ** t) : ticks(l0, l1);
  for (const t of yt) {
    if (t < l0 * 0.999 || t > l1 * 1.001) continue;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${y(t) + 4}" text-anchor="end">${t.toPrecision(3)}</text>`);
  }
  for (const t of ticks(s0, s1)) parts.push(`<text x="${x(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<text x="${W / 2}" y="${H - 6}" text-anchor="middle">step</text>`);
  parts.push(`<text x="16" y="${m.t + lossH / 2}" transform="rotate(-90 16 ${m.t + lossH / 2})" text-anchor="middle">loss${log ? ' (log)' : ''}</text>`);
  parts.push(`<text x="16" y="${lrTop + lrH / 2}" transform="rotate(-90 16 ${lrTop + lrH / 2})" text-anchor="middle">lr</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${lossH}" fill="none" stroke="#999"/>`);
  parts.push(`<rect x="${m.l}" y="${lrTop}" width="${W - m.l - m.r}" height="${lrH}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${m.l - 6}" y="${lrTop + 4}" text-anchor="end">${lrMax.toPrecision(2)}</text><text x="${m.l - 6}" y="${lrTop + lrH}" text-anchor="end">0</text>`);
  runs.forEach((r, i) => {
    const c = COLORS[i % COLORS.length];
    parts.push(`<path d="${path(r.steps, r.loss, x, y)}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    parts.push(`<path d="${path(r.steps, r.lr, x, ly)}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    const final = r.loss[r.loss.length - 1];
    parts.push(`<rect x="${W - m.r - 230}" y="${m.t + 10 + i * 18}" width="12" height="3" fill="${c}"/><text x="${W - m.r - 212}" y="${m.t + 15 + i * 18}">${esc(r.name)} (final ${final.toPrecision(4)})</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
