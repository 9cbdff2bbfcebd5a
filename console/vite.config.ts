// The console is built into the Python package, so `pip install .` needs no Node.js.
// `npm ci && npm run build` rewrites src/cadenza/ui/static from these sources.
import { defineConfig } from "vite";

export default defineConfig({
  // Absolute asset URLs: pages deeper than / (an execution's page) load them too.
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../src/cadenza/ui/static",
    emptyOutDir: true,
    // No source maps, no inlined fonts: the package stays small and air-gapped.
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
});
