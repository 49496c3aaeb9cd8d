import { defineConfig } from "@playwright/test";

// Browser tests against a real `streamweave serve` (e2e/global-setup.ts starts it on a
// free port with a fresh SQLite data directory and the simlab sample data).
export default defineConfig({
  testDir: "./e2e",
  globalSetup: "./e2e/global-setup.ts",
  globalTeardown: "./e2e/global-teardown.ts",
  // One server and one story: the specs run in order, in one worker (2 cores here).
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  outputDir: "./test-results/artifacts",
  reporter: [["list"]],
  use: {
    headless: true,
    viewport: { width: 1366, height: 860 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
  },
});
