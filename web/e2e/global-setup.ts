import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { STATE_FILE, type ServerState } from "./server";

const REPO = resolve(import.meta.dirname, "../..");

/** The `streamweave` command: $STREAMWEAVE_BIN, the project's venv, or the PATH. */
export function streamweaveBin(): string {
  if (process.env.STREAMWEAVE_BIN) return process.env.STREAMWEAVE_BIN;
  const venv = join(process.env.STREAMWEAVE_VENV ?? join(REPO, ".venv"), "bin", "streamweave");
  return existsSync(venv) ? venv : "streamweave";
}

/**
 * `up` (API, embedded Prefect server and a worker: what "Harvest now" needs) when this
 * StreamWeave has it, else `serve`; STREAMWEAVE_E2E_COMMAND chooses explicitly.
 */
function serverCommand(bin: string, env: NodeJS.ProcessEnv): "up" | "serve" {
  const chosen = process.env.STREAMWEAVE_E2E_COMMAND;
  if (chosen === "up" || chosen === "serve") return chosen;
  try {
    execFileSync(bin, ["up", "--help"], { env, stdio: "pipe" });
    return "up";
  } catch {
    return "serve";
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

async function waitForHealth(baseURL: string, child: { exitCode: number | null }, log: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`streamweave exited with ${child.exitCode}; see ${log}`);
    try {
      const response = await fetch(`${baseURL}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`streamweave did not answer /health within 120 s; see ${log}`);
}

export default async function globalSetup(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "streamweave-e2e-"));
  const dataDir = join(root, "data");
  const sampleDir = join(root, "instrument");
  const archiveDir = join(root, "archive");
  mkdirSync(archiveDir);
  mkdirSync(join(import.meta.dirname, "../test-results/screenshots"), { recursive: true });
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    STREAMWEAVE_DATA_DIR: dataDir,
    STREAMWEAVE_PUBLIC_URL: baseURL,
    STREAMWEAVE_ENV: "development",
  };
  const childEnv = { ...process.env, ...env };
  const bin = streamweaveBin();
  const admin = { email: "admin@lab.example.org", password: "admin-password-e2e" };
  const user = { email: "researcher@lab.example.org", password: "user-password-e2e" };

  execFileSync(bin, ["migrate"], { env: childEnv, stdio: "pipe" });
  execFileSync(bin, ["simlab", "generate", sampleDir, "--large-mib", "4"], { env: childEnv, stdio: "pipe" });
  execFileSync(bin, ["users", "create", admin.email, "--admin", "--password-stdin"], {
    env: childEnv,
    input: `${admin.password}\n`,
    stdio: ["pipe", "pipe", "pipe"],
  });
  execFileSync(bin, ["users", "create", user.email, "--password-stdin"], {
    env: childEnv,
    input: `${user.password}\n`,
    stdio: ["pipe", "pipe", "pipe"],
  });

  const log = join(root, "serve.log");
  const output = openSync(log, "a");
  const command = serverCommand(bin, childEnv);
  const args = ["--host", "127.0.0.1", "--port", String(port)];
  if (command === "up") args.push("--prefect-port", String(await freePort()), "--workers", "1");
  const child = spawn(bin, [command, ...args], {
    env: childEnv,
    stdio: ["ignore", output, output],
    detached: false,
  });
  if (!child.pid) throw new Error(`cannot start ${bin} ${command}`);
  try {
    await waitForHealth(baseURL, child, log);
  } catch (error) {
    child.kill("SIGTERM");
    throw error;
  }

  const state: ServerState = { baseURL, pid: child.pid, root, dataDir, sampleDir, archiveDir, env, admin, user };
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  process.env.PLAYWRIGHT_BASE_URL = baseURL;
  child.unref();
}
