import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The build is served by nginx (web-app/nginx.conf): hashed files under /assets/ are cached for a year.
export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2020',
  },
  server: {
    // `npm run dev -w web-app` against a running local mesh: the API stays on a relative URL.
    proxy: { '/web-api': process.env.WEB_API_ORIGIN ?? 'http://localhost:8080' },
  },
});
