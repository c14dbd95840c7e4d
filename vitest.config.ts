import { configDefaults, defineConfig } from 'vitest/config';

// The long fuzzing and crash runs live in test/stress (npm run test:stress); npm test stays fast.
// Every pass checks its contract (requires/ensures, src/passes/pass.ts) in the tests, CLI
// children included (they inherit the environment).
export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, 'test/stress/**'],
    env: { LION_ONNX_CHECK_PASSES: '1' },
  },
});
