import { rmSync } from "node:fs";
import { serverState } from "./server";

export default async function globalTeardown(): Promise<void> {
  const state = serverState();
  try {
    process.kill(state.pid, "SIGTERM");
  } catch {
    // already gone
  }
  // `up` stops its worker, API and Prefect server in turn (up to 20 s each); the data
  // directory goes only once it has, or once it is killed (its children then get
  // SIGTERM from the kernel).
  const deadline = Date.now() + 60_000;
  while (alive(state.pid)) {
    if (Date.now() > deadline) {
      process.kill(state.pid, "SIGKILL");
      break;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  rmSync(state.root, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
