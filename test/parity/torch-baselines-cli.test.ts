/**
 * Parity with torch.optim.AdamW and torch.optim.SGD(momentum) through the CLI: `lion-onnx build
 * --optimizer adamw|sgd` with the fixture's hyperparameters, then `lion-onnx train` on the same
 * batches (--no-shuffle, 8 rows), against the trajectories of scripts/torch/make_baseline_fixtures.py
 * (test/fixtures/torch/<name>/{adamw,sgd}.json and their -final.npy): the logged losses and every
 * final parameter.
 *
 * Why these exist beside the Lion parity tests: Lion takes sign(c), so multiplying every gradient
 * by a positive constant changes nothing it does — a loss gradient not divided by the batch size
 * passes every Lion trajectory. SGD's update is proportional to the gradient, so the same bug
 * moves its parameters by the batch size's factor. (AdamW's m/√v is scale-free too, up to ε:
 * its runs check the emitted AdamW — bias correction, ε, decoupled decay — more than the scale.)
 *
 * Tolerances. The first 5 losses within 1e-4 relative, as for Lion; but the baselines have no
 * sign to flip, so all 32 must stay within 1e-4 too (Lion allows 1e-2), and the parameters must
 * end close to torch's element by element: within 1e-4 of each tensor's largest magnitude, each
 * tensor's L2 norm within 1e-5 relative (observed here: ≤ 1.5e-6, 4e-7, 1.2e-7). One exception, as
 * in torch-build.test.ts: the transformer's 'k.bias' has a mathematically zero gradient (softmax
 * ignores the constant shift it adds to every score), so its gradient is rounding noise
 * (|m| ~ 1e-10) that no two implementations share; AdamW divides that noise by its own √v and
 * walks the bias by up to lr·|m|/(√v + ε) ≈ 2e-5 per step (observed 3.4e-3 of its scale after
 * 32 steps). Such parameters are recognised by their first moment / momentum buffer (max-abs
 * below 1e-7; real gradients here give far more) and get 2e-2 elementwise and 1e-2 on the norm.
 * Under SGD, whose weight decay is coupled (g + wd·p), 'k.bias' has a real gradient wd·p and is
 * held to the ordinary tolerances.
 * Runs the built CLI (`npm run build` first).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../src/data/npy.js';
import { readSafetensors } from '../../src/artifacts/safetensors.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { FIXTURES, fixtureDir, FIRST_STEPS, FIRST_TOL, maxRelError } from './fixtures.js';

const ALL_TOL = 1e-4;
const PARAM_TOL = 1e-4;
const NORM_TOL = 1e-5;
const NOISE_PARAM_TOL = 2e-2;
const NOISE_NORM_TOL = 1e-2;
const NOISE_MOMENTUM = 1e-7;
/** Parameters whose update is driven by rounding noise alone (see above), per fixture and optimizer. */
const ZERO_GRADIENT: Record<string, string[]> = { 'transformer-adamw': ['k.bias'] };

interface Baseline {
  optimizer: 'adamw' | 'sgd';
  input: string;
  target: string;
  batch_size: number;
  steps: number;
  lr: number;
  weight_decay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  momentum?: number;
  losses: number[];
  final_param_l2: Record<string, number>;
  params: string[];
  param_sizes: number[];
  final_params: string;
}

const baseline = (name: string, opt: string): Baseline => JSON.parse(readFileSync(join(fixtureDir(name), `${opt}.json`), 'utf8')) as Baseline;
const dir = tempDir('lion-onnx-baselines-');

function l2(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

const CASES = FIXTURES.flatMap((name) => (['adamw', 'sgd'] as const).map((opt) => [name, opt] as const));

describe.each(CASES)('PyTorch parity, build --optimizer: %s with %s', (name, opt) => {
  it('the logged losses and the final parameters reproduce torch.optim’s run', () => {
    const t = baseline(name, opt);
    const fx = fixtureDir(name);
    const out = join(dir, `${name}-${opt}`);
    const hyper =
      opt === 'adamw'
        ? ['--beta1', String(t.beta1), '--beta2', String(t.beta2), '--eps', String(t.eps), '--weight-decay', String(t.weight_decay)]
        : ['--momentum', String(t.momentum), '--weight-decay', String(t.weight_decay)];
    const b = runCli(['build', join(fx, 'model.onnx'), '--loss', 'cross-entropy', '--optimizer', opt, ...hyper, '--out', out]);
    expect(b.code, b.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { optimizer: { name: string; hyperparameters: Record<string, number> }; parameters: { name: string; group: string }[] };
    expect(manifest.optimizer.name).toBe(opt);
    expect(manifest.optimizer.hyperparameters).toEqual(
      opt === 'adamw' ? { beta1: t.beta1, beta2: t.beta2, eps: t.eps, weightDecay: t.weight_decay } : { momentum: t.momentum, weightDecay: t.weight_decay },
    );
    // torch decays every parameter (one group), and so must the build.
    expect(manifest.parameters.map((p) => p.name).sort()).toEqual([...t.params].sort());
    expect(manifest.parameters.every((p) => p.group === 'decay')).toBe(true);

    const log = join(out, 'run.jsonl');
    const r = runCli([
      'train', out,
      '--data', `${t.input}=${join(fx, `${t.input}.npy`)}`,
      '--data', `${t.target}=${join(fx, `${t.target}.npy`)}`,
      '--no-shuffle', '--batch-size', String(t.batch_size), '--steps', String(t.steps), '--lr', String(t.lr), '--log', log,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { step: number; loss: number; lr: number });
    expect(rows.map((x) => x.step)).toEqual(Array.from({ length: t.steps }, (_, i) => i + 1));
    expect(rows.every((x) => x.lr === t.lr)).toBe(true);
    const losses = rows.map((x) => x.loss);
    const e5 = maxRelError(losses, t.losses, FIRST_STEPS);
    const eAll = maxRelError(losses, t.losses);

    // Final parameters: the last checkpoint against torch's, element by element.
    const ckpt = readSafetensors(join(out, 'checkpoints', 'run-0001', `checkpoint-${String(t.steps).padStart(7, '0')}.safetensors`)).tensors;
    const want = readNpy(join(fx, t.final_params)).data as Float32Array;
    expect(want.length).toBe(t.param_sizes.reduce((a, n) => a + n, 0));
    let offset = 0;
    let eParam = 0;
    let eNorm = 0;
    const noise: string[] = [];
    t.params.forEach((p, k) => {
      const w = want.subarray(offset, offset + t.param_sizes[k]);
      offset += t.param_sizes[k];
      const got = ckpt.get(p)?.data as Float32Array | undefined;
      expect(got, `checkpoint holds '${p}'`).toBeDefined();
      expect(got!.length, p).toBe(w.length);
      const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got![i] - w[i]) / scale);
      const norm = Math.abs(l2(got!) - t.final_param_l2[p]) / t.final_param_l2[p];
      const m = ckpt.get(`${p}.${opt}_m`)?.data as Float32Array | undefined;
      expect(m, `checkpoint holds '${p}.${opt}_m'`).toBeDefined();
      if (m!.reduce((a, v) => Math.max(a, Math.abs(v)), 0) < NOISE_MOMENTUM) {
        noise.push(p);
        expect(worst, `'${p}' (zero-gradient parameter): largest |lion-onnx − torch| ÷ max|torch|`).toBeLessThanOrEqual(NOISE_PARAM_TOL);
        expect(norm, `final L2 norm of '${p}' (zero-gradient parameter)`).toBeLessThanOrEqual(NOISE_NORM_TOL);
        return;
      }
      eParam = Math.max(eParam, worst);
      eNorm = Math.max(eNorm, norm);
      expect(worst, `'${p}': largest |lion-onnx − torch| ÷ max|torch|`).toBeLessThanOrEqual(PARAM_TOL);
      expect(norm, `final L2 norm of '${p}'`).toBeLessThanOrEqual(NORM_TOL);
    });
    expect(noise).toEqual(ZERO_GRADIENT[`${name}-${opt}`] ?? []);
    console.log(
      `${name} ${opt}: loss max rel error, first ${FIRST_STEPS}: ${e5.toExponential(2)}, all ${t.steps}: ${eAll.toExponential(2)}; ` +
        `final params max error ÷ scale ${eParam.toExponential(2)}, L2 ${eNorm.toExponential(2)}${noise.length ? ` (zero-gradient ${noise.join(', ')} apart)` : ''}`,
    );
    expect(e5).toBeLessThan(FIRST_TOL);
    expect(eAll).toBeLessThan(ALL_TOL);
  });
});
