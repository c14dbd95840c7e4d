import { configDefaults, defineConfig } from 'vitest/config';

// The long fuzzing and crash runs live in test/stress (npm run test:stress); npm test stays fast.
export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, 'test/stress/**'],
  },
});
