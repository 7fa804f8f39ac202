/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` proxies the API to a console on 127.0.0.1:7070 (`switchboard serve`), so the
// page and the API share an origin exactly as when the server serves `dist/` itself.
const api = process.env.SWITCHBOARD_API ?? 'http://127.0.0.1:7070';

export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs: the same build works at `/` of the server and inside the Tauri shell.
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
  server: {
    proxy: { '/api': { target: api, ws: true, changeOrigin: true } },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
