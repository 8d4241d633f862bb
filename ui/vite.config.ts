/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// The UI is bundled whole (no CDN, no remote fonts) so it runs under Tauri's strict CSP.
export default defineConfig({
  plugins: [svelte(), ...(process.env.VITEST ? [svelteTesting()] : [])],
  clearScreen: false,
  // tauri.conf.json's devUrl is http://localhost:5173.
  server: { port: 5173, strictPort: true, host: 'localhost' },
  preview: { port: 4173, strictPort: true, host: '127.0.0.1' },
  build: {
    outDir: 'dist',
    target: 'es2022',
    // FullCalendar is big; one chunk is fine for a desktop app loaded from disk.
    chunkSizeWarningLimit: 1200,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./src/test-setup.ts'],
  },
});
