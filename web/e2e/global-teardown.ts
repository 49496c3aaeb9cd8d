import { rmSync } from "node:fs";
import { serverState } from "./server";

// `up` stops its worker first, for as long as the running harvests take to finish their
// batch: a second SIGTERM tells them to stop at once. Killed, `up` leaves its children
// to the kernel, which sends them SIGTERM.
const ABORT_AFTER_MS = 20_000;
const KILL_AFTER_MS = 60_000;
const API_GONE_WITHIN_MS = 30_000;

export default async function globalTeardown(): Promise<void> {
  const state = serverState();
  signal(state.pid, "SIGTERM");
  const started = Date.now();
  let aborted = false;
  while (alive(state.pid)) {
    const waited = Date.now() - started;
    if (waited > KILL_AFTER_MS) {
      signal(state.pid, "SIGKILL");
      break;
    }
    if (waited > ABORT_AFTER_MS && !aborted) {
      signal(state.pid, "SIGTERM");
      aborted = true;
    }
    await sleep(100);
  }
  // The data directory goes once nothing of the stack uses it.
  const deadline = Date.now() + API_GONE_WITHIN_MS;
  while ((await answers(state.baseURL)) && Date.now() < deadline) await sleep(200);
  rmSync(state.root, { recursive: true, force: true });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(baseURL: string): Promise<boolean> {
  try {
    await fetch(`${baseURL}/health`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
