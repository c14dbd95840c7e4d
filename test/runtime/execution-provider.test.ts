/**
 * Session options: the thread count is always set (onnxruntime's own default, with its thread
 * pinning, ran the bundled CNN at half speed on a 2-core machine), --threads is checked, and
 * the CUDA provider is only asked for explicitly.
 */
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { UsageError } from '../../src/errors.js';
import { sessionOptions } from '../../src/runtime/execution-provider.js';

describe('sessionOptions', () => {
  it('defaults to one intra-op thread per available core, sequential across ops', () => {
    const so = sessionOptions({});
    expect(so.intraOpNumThreads).toBe(availableParallelism());
    expect(so.interOpNumThreads).toBe(1);
    expect(so.executionProviders).toEqual(['cpu']);
  });
  it('takes --threads as given and refuses a count that is not a whole number >= 1', () => {
    expect(sessionOptions({ threads: 3 }).intraOpNumThreads).toBe(3);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => sessionOptions({ threads: bad })).toThrow(UsageError);
  });
  it('asks for CUDA only when named, with the device id', () => {
    expect(sessionOptions({ executionProvider: 'cuda', deviceId: 1 }).executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
    expect(() => sessionOptions({ executionProvider: 'tpu' as 'cpu' })).toThrow(UsageError);
  });
});
