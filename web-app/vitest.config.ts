import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';

// Component and unit tests only; web-app/e2e/*.test.ts are jest suites (real nginx, real Chromium).
export default defineConfig({
  plugins: [vue()],
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.spec.ts', 'local/**/*.spec.ts', 'scripts/**/*.spec.ts'],
  },
});
