import { execFileSync } from "node:child_process";
import { test as base, expect, type Page } from "@playwright/test";
import { streamweaveBin } from "./global-setup";
import { serverState, type ServerState } from "./server";

interface Fixtures {
  server: ServerState;
  consoleErrors: string[];
}

/** Every spec runs against the server of the global setup, and fails on a console error. */
export const test = base.extend<Fixtures>({
  server: async ({}, use) => {
    await use(serverState());
  },
  baseURL: async ({ server }, use) => {
    await use(server.baseURL);
  },
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`${message.text()} (${message.location().url})`);
      });
      page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
      await use(errors);
      expect(errors, "the browser console must stay free of errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

export async function logIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  // Admins land on the dashboard, everyone else on their files.
  await expect(page.getByRole("heading", { level: 1, name: /^(Dashboard|My files)$/ })).toBeVisible();
}

/** Logs out and waits for the log-in page, so that the next navigation does not race the redirect. */
export async function logOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Account menu" }).click();
  await page.getByRole("menuitem", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}

/** Runs the `streamweave` CLI against the test server's data directory. */
export function cli(server: ServerState, args: string[]): string {
  return execFileSync(streamweaveBin(), args, { env: { ...process.env, ...server.env }, encoding: "utf8", stdio: "pipe" });
}
