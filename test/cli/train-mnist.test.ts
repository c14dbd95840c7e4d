/** `--dataset mnist` smoke test: the bundled MLP trains on the bundled digits and is evaluated on the 2,000 held out. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-mnist-');

describe('lion-onnx train --dataset mnist', () => {
  it('trains models/mnist_mlp.onnx for 30 steps and reports held-out accuracy on 2000 digits', { timeout: 120_000 }, () => {
    const art = join(root, 'mnist_mlp');
    const b = runCli(['build', join(REPO, 'models/mnist_mlp.onnx'), '--loss', 'cross-entropy', '--out', art]);
    expect(b.code, b.stderr).toBe(0);
    const r = runCli(['train', art, '--dataset', 'mnist', '--steps', '30', '--batch-size', '64', '--lr', '1e-3'], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^trained 30 steps in /m);
    const m = /^held-out: loss (\S+), accuracy (\S+)% of (\d+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![3])).toBe(2000);
    // Chance is 10%; 30 Lion steps on 1,920 digits already get most of them right.
    expect(Number(m![2])).toBeGreaterThan(50);
    expect(Number(m![1])).toBeLessThan(Math.log(10));
  });
});
