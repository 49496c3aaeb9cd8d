import { rmSync } from "node:fs";
import { serverState } from "./server";

export default async function globalTeardown(): Promise<void> {
  const state = serverState();
  try {
    process.kill(state.pid, "SIGTERM");
  } catch {
    // already gone
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(state.pid, 0);
    } catch {
      break;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  rmSync(state.root, { recursive: true, force: true });
}
