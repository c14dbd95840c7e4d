import { defineConfig } from 'vitest/config';

// npm run test:stress: the full fuzzing campaigns and the SIGKILL trials (see test/stress/).
export default defineConfig({
  test: {
    include: ['test/stress/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    env: { LION_ONNX_CHECK_PASSES: '1' },
  },
});
