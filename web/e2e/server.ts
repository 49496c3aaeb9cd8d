// Where the global setup left the running StreamWeave, for the specs and the teardown.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const STATE_FILE = fileURLToPath(new URL("../test-results/server.json", import.meta.url));

export interface ServerState {
  baseURL: string;
  pid: number;
  root: string;
  dataDir: string;
  sampleDir: string;
  archiveDir: string;
  env: Record<string, string>;
  admin: { email: string; password: string };
  user: { email: string; password: string };
}

export function serverState(): ServerState {
  return JSON.parse(readFileSync(STATE_FILE, "utf8")) as ServerState;
}
