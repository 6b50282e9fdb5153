import { defineConfig } from 'vite';

/** `vite` serves the app on 5174 for development; `vite build` makes what `pnpm start` serves. */
export default defineConfig({
  server: { port: 5174, strictPort: true },
  build: { outDir: 'dist', emptyOutDir: true },
});
