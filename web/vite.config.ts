import { defineConfig } from 'vitest/config';

export default defineConfig({
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2048 },
  worker: { format: 'es' },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
