/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build ships inside the Python package, which serves it at "/".
const outDir = fileURLToPath(new URL("../src/streamweave/web/dist", import.meta.url));
const api = process.env.STREAMWEAVE_DEV_API ?? "http://127.0.0.1:8000";
const proxied = ["/api", "/auth", "/users", "/ark:", "/health", "/docs", "/openapi.json"];

export default defineConfig({
  plugins: [react()],
  build: { outDir, emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1500 },
  server: { proxy: Object.fromEntries(proxied.map((path) => [path, api])) },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // Rendering Mantine in jsdom is slow on a busy 2-core machine.
    testTimeout: 30_000,
  },
});
