import { defineConfig } from "vite";

// Relative asset URLs: the same build is served at /app/ and at /messaging-api/app/.
export default defineConfig({
  base: "./",
  build: {
    outDir: process.env.WEBAPP_OUT_DIR || "dist",
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a service on its default port.
    proxy: {
      "/v1": "http://127.0.0.1:3000",
      "/chat": "http://127.0.0.1:3000",
      "/dev": "http://127.0.0.1:3000",
      "/socket.io": { target: "http://127.0.0.1:3000", ws: true },
    },
  },
});
