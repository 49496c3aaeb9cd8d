import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, expect, logIn, logOut, screenshot, test } from "./fixtures";

// One story, in order: each step builds on what the previous one created.
test.describe.configure({ mode: "serial" });

const INSTRUMENT = "NMR 600";
const STORAGE = "Archive";

test("an admin logs in and creates a storage location", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByText("No harvests yet")).toBeVisible();
  await screenshot(page, "dashboard-empty");
  await page.getByRole("link", { name: "Storage locations" }).click();
  await page.getByRole("button", { name: "New storage location" }).click();
  const dialog = page.getByRole("dialog", { name: "New storage location" });
  await dialog.getByLabel("Name").fill(STORAGE);
  await dialog.getByLabel("Directory").fill(server.archiveDir);
  await dialog.getByRole("button", { name: "Create storage location" }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole("row", { name: new RegExp(STORAGE) });
  await expect(row).toContainText(server.archiveDir);
  await row.getByRole("button", { name: `Test connection of ${STORAGE}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "Connection works" })).toBeVisible();
  await screenshot(page, "storage-locations");
});

test("an admin creates an instrument on a local source and tests it", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Instruments" }).click();
  await expect(page.getByText("No instruments")).toBeVisible();
  await page.getByRole("link", { name: "New instrument" }).click();
  await page.getByLabel(/^Name/).fill(INSTRUMENT);
  await page.getByLabel("Location").fill("Building B, room 2.14");
  await page.getByLabel("Directory").fill(`${server.sampleDir}/nmr`);
  await page.getByRole("combobox", { name: "A file is complete" }).click();
  await page.getByRole("option", { name: "as soon as it is seen" }).click();
  await screenshot(page, "instrument-form");
  await page.getByRole("button", { name: "Create instrument" }).click();
  await expect(page.getByRole("heading", { name: INSTRUMENT })).toBeVisible();
  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Connection works" })).toBeVisible();
  // The researcher may see the instrument and its runs (not yet its files).
  const access = page.getByRole("region", { name: "Who may see this instrument" });
  await access.getByRole("combobox", { name: "User" }).click();
  await page.getByRole("option", { name: server.user.email }).click();
  await access.getByRole("button", { name: "Grant access" }).click();
  await expect(access.getByRole("table", { name: "Access grants" })).toContainText(server.user.email);
  await screenshot(page, "instrument");
});

test("an admin creates a schedule and sees when it will run", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Schedules" }).click();
  await page.getByRole("button", { name: "New schedule" }).click();
  const dialog = page.getByRole("dialog", { name: "New schedule" });
  await dialog.getByRole("combobox", { name: "Instrument" }).click();
  await page.getByRole("option", { name: INSTRUMENT }).click();
  await dialog.getByRole("combobox", { name: "Storage location" }).click();
  await page.getByRole("option", { name: STORAGE }).click();
  await dialog.getByLabel("Cron expression").fill("30 2 * * 1-5");
  await expect(dialog.getByText("At 02:30, Monday through Friday")).toBeVisible();
  const runs = dialog.getByRole("list", { name: "Next runs" }).getByRole("listitem");
  await expect(runs).toHaveCount(5);
  for (const item of await runs.all()) await expect(item).toContainText(/2:30|02:30/);
  await screenshot(page, "schedule-form");
  await dialog.getByRole("button", { name: "Create schedule" }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole("row", { name: new RegExp(INSTRUMENT) });
  await expect(row).toContainText("At 02:30, Monday through Friday");
  await expect(row.getByRole("switch")).toBeChecked();
  await screenshot(page, "schedules");
});

test("an admin finds a harvested file, its checksums and its ARK", async ({ page, server }) => {
  // Harvested in-process by the CLI; "Harvest now" (orchestrated) has its own test below.
  cli(server, ["harvest", INSTRUMENT, "--storage", STORAGE]);
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "My files" }).click();
  await page.getByRole("combobox", { name: "Instrument" }).click();
  await page.getByRole("option", { name: INSTRUMENT }).click();
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByText(/^1–\d+ of \d+$/)).toBeVisible();
  await screenshot(page, "files");

  // Search by ARK: exactly that file.
  const firstRow = page.getByRole("table", { name: "Files" }).getByRole("row").nth(1);
  const name = await firstRow.getByRole("link").innerText();
  const arkText = await firstRow.getByRole("cell").last().innerText();
  await page.getByLabel("ARK").fill(arkText);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByText("1–1 of 1")).toBeVisible();
  await page.getByRole("table", { name: "Files" }).getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();
  await expect(page.getByRole("table", { name: "Versions" })).toContainText("xxh3-128");
  await expect(page.getByRole("table", { name: "Transfers of this file" })).toContainText("verified");
  await screenshot(page, "file");

  const ark = page.getByRole("link", { name: "Resolve ARK" });
  const href = await ark.getAttribute("href");
  expect(href).toMatch(/^\/ark:\/99999\/fk4/);
  const [arkPage] = await Promise.all([page.context().waitForEvent("page"), ark.click()]);
  await arkPage.waitForLoadState();
  const resolved = JSON.parse(await arkPage.locator("body").innerText()) as { filename: string; ark: string };
  expect(resolved.filename).toBe(name);
  expect(`/${resolved.ark}`).toBe(href);
  await arkPage.close();

  // Share this one file with the researcher.
  const access = page.getByRole("region", { name: "Who has access" });
  await access.getByRole("combobox", { name: "User" }).click();
  await page.getByRole("option", { name: server.user.email }).click();
  await access.getByRole("button", { name: "Grant access" }).click();
  await expect(access.getByRole("table", { name: "Access grants" })).toContainText(server.user.email);
});

test("the dashboard shows the harvest", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await expect(page.getByRole("group", { name: "Files", exact: true })).toContainText("20");
  await expect(page.getByRole("group", { name: "Instruments (enabled)" })).toContainText("1 (1)");
  await expect(page.getByRole("region", { name: "Recent harvest runs" })).toContainText(INSTRUMENT);
  await expect(page.getByRole("region", { name: "Throughput" }).getByRole("table")).toContainText("20 files");
  await expect(page.getByText("No failed files")).toBeVisible();
  await page.getByText("Per day (30 days)").click();
  await expect(page.getByRole("region", { name: "Throughput" }).getByRole("table")).toContainText("per day");
  await screenshot(page, "dashboard");
});

test("a regular user sees exactly the file shared with them, and no admin pages", async ({ page, server }) => {
  await logIn(page, server.user.email, server.user.password);
  await expect(page.getByText("1–1 of 1")).toBeVisible();
  await expect(page.getByRole("table", { name: "Files" }).getByRole("row")).toHaveCount(2);
  await expect(page.getByRole("navigation", { name: "Administration" })).toHaveCount(0);
  await screenshot(page, "files-regular-user");
  await page.getByRole("table", { name: "Files" }).getByRole("link").first().click();
  await expect(page.getByRole("region", { name: "Identifier" })).toContainText("ark:/99999/");
  await page.getByRole("link", { name: "Harvest runs" }).click();
  await expect(page.getByRole("table", { name: "Harvest runs" })).toContainText(INSTRUMENT);
  await page.goto("/admin/instruments");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await screenshot(page, "not-found-regular-user");
});

test("an admin makes a group with the researcher in it", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Users" }).click();
  await expect(page.getByRole("table", { name: "Users" })).toContainText(server.user.email);
  await screenshot(page, "users");
  await page.getByRole("link", { name: "Groups" }).click();
  await page.getByRole("button", { name: "New group" }).click();
  const dialog = page.getByRole("dialog", { name: "New group" });
  await dialog.getByLabel(/^Name/).fill("NMR users");
  await dialog.getByRole("button", { name: "Create group" }).click();
  await expect(dialog).toBeHidden();
  await page.getByRole("link", { name: "NMR users" }).click();
  await page.getByRole("combobox", { name: "User" }).click();
  await page.getByRole("option", { name: server.user.email }).click();
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.getByRole("table", { name: "Members" })).toContainText(server.user.email);
  await screenshot(page, "group");
});

test("an admin adds a file filter from its schema, sees the chain and dry-runs it", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Hooks" }).click();
  await page.getByRole("button", { name: "New hook" }).click();
  const dialog = page.getByRole("dialog", { name: "New hook" });
  await dialog.getByLabel(/^Name/).fill("skip temporary files");
  await dialog.getByLabel(/^Exclude patterns/).fill("*.tmp\n*.lock");
  await dialog.getByRole("button", { name: "Add redirect rule" }).click();
  await dialog.getByLabel(/^Redirect rules 1: Pattern/).fill("*.csv");
  await dialog.getByLabel(/^Redirect rules 1: Destination/).fill("tables");
  await screenshot(page, "hook-form");
  await dialog.getByRole("button", { name: "Create hook" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("region", { name: "Order of the chain" })).toContainText("1. skip temporary files");
  const dryRun = page.getByRole("region", { name: "Dry run of the pre-transfer chain" });
  await dryRun.getByRole("combobox", { name: "Instrument" }).click();
  await page.getByRole("option", { name: INSTRUMENT }).click();
  await dryRun.getByLabel(/^Path on the instrument/).fill("run_7/scan.tmp");
  await dryRun.getByRole("button", { name: "Try it" }).click();
  await expect(dryRun.getByRole("status")).toContainText("Would be skipped");
  await dryRun.getByLabel(/^Path on the instrument/).fill("run_7/peaks.csv");
  await dryRun.getByRole("button", { name: "Try it" }).click();
  await expect(dryRun.getByRole("status")).toContainText("tables/");
  await screenshot(page, "hooks");
  // Leave the chain as it was for the harvest below.
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Delete skip temporary files" }).click();
  await expect(page.getByText("No hooks", { exact: true })).toBeVisible();
});

test("a researcher requests an instrument, the admin approves, the researcher is told", async ({ page, server }) => {
  await logIn(page, server.user.email, server.user.password);
  await page.getByRole("link", { name: "Instrument requests" }).click();
  // The form's own section: the page before it may still be on screen for a moment,
  // with an "Instrument" filter of its own.
  const form = page.getByRole("region", { name: "Request an instrument" });
  await form.getByLabel(/^Instrument/).fill("Orbitrap Exploris");
  await form.getByLabel(/^Where it is/).fill("Building C, 1.02");
  await form.getByLabel(/^How often/).fill("hourly");
  await form.getByLabel(/^Why/).fill("Proteomics core data");
  await form.getByRole("button", { name: "Send request" }).click();
  await expect(page.getByRole("table", { name: "Instrument requests" })).toContainText("pending");
  await logOut(page);

  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Instrument requests" }).click();
  await page.getByRole("button", { name: "Review Orbitrap Exploris" }).click();
  const dialog = page.getByRole("dialog", { name: "Review the request" });
  await dialog.getByRole("combobox", { name: "Decision" }).click();
  await page.getByRole("option", { name: "Approved" }).click();
  await dialog.getByLabel("Note to the requester").fill("Connected next week");
  await dialog.getByRole("button", { name: "Save and notify" }).click();
  await expect(dialog).toBeHidden();
  await screenshot(page, "instrument-requests");
  await logOut(page);

  await logIn(page, server.user.email, server.user.password);
  await page.getByRole("button", { name: "Notifications, 1 unread" }).click();
  await expect(page.getByRole("dialog")).toContainText("approved");
  await screenshot(page, "notifications");
});

test("the audit log shows who created what", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByRole("combobox", { name: "What" }).click();
  await page.getByRole("option", { name: "instruments", exact: true }).click();
  await page.getByRole("combobox", { name: "Action" }).click();
  await page.getByRole("option", { name: "create", exact: true }).click();
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByText("1–1 of 1")).toBeVisible();
  await expect(page.getByRole("table", { name: "Audit log" })).toContainText(server.admin.email);
  await screenshot(page, "audit-log");
});

test("the other pages: settings, transfers, harvest runs, a run, service accounts", async ({ page, server }) => {
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Transfers" }).click();
  await expect(page.getByRole("table", { name: "Transfers" })).toContainText("verified");
  await screenshot(page, "transfers");
  await page.getByRole("link", { name: "Harvest runs" }).click();
  await screenshot(page, "harvest-runs");
  await page.getByRole("table", { name: "Harvest runs" }).getByRole("link").first().click();
  await expect(page.getByRole("table", { name: "Files of this run" })).toBeVisible();
  await screenshot(page, "harvest-run");
  await page.getByRole("link", { name: "Service accounts" }).click();
  await expect(page.getByText("No service accounts")).toBeVisible();
  await screenshot(page, "service-accounts");
  await page.getByRole("button", { name: "Account menu" }).click();
  await page.getByRole("menuitem", { name: "Settings" }).click();
  await page.getByLabel(/^Token name/).fill("notebook");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByLabel("New API token", { exact: true })).toContainText("swt_");
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("table", { name: "API tokens" })).toContainText("notebook");
  await screenshot(page, "settings");
});

test("on a tablet the navigation folds into a menu", async ({ page, server }) => {
  await page.setViewportSize({ width: 820, height: 1180 });
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("button", { name: "Open navigation" }).click();
  await page.getByRole("link", { name: "My files" }).click();
  await expect(page.getByRole("heading", { name: "My files" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Files" })).toBeVisible();
  await screenshot(page, "files-tablet");
});

test("Harvest now shows live progress until the run completes", async ({ page, server, consoleErrors }) => {
  test.setTimeout(180_000);
  // New acquisitions since the last harvest, so the run has something to copy.
  const run = join(server.sampleDir, "nmr", "2026-04-01_new_run");
  mkdirSync(run, { recursive: true });
  for (let index = 0; index < 40; index += 1) {
    writeFileSync(join(run, `scan_${String(index).padStart(3, "0")}.fid`), Buffer.alloc(64 * 1024, index));
  }
  await logIn(page, server.admin.email, server.admin.password);
  await page.getByRole("link", { name: "Instruments" }).click();
  await page.getByRole("link", { name: INSTRUMENT }).click();
  const [response] = await Promise.all([
    page.waitForResponse((answer) => answer.url().endsWith("/harvest") && answer.request().method() === "POST"),
    page.getByRole("button", { name: "Harvest now" }).click(),
  ]);
  if (response.status() === 503) {
    // No orchestrator on this server: the page must pass on the server's reason; then this
    // test has nothing to watch.
    const { detail } = (await response.json()) as { detail: string };
    await expect(page.getByRole("alert")).toContainText(detail);
    consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((error) => !error.includes("503")));
    test.skip(true, `POST /api/instruments/{id}/harvest answered 503 (${detail}): this test runs once the server can orchestrate`);
  }
  expect(response.status()).toBe(200);
  const harvest = page.getByRole("region", { name: "Harvest", exact: true });
  // The worker picks the flow run up on its next poll.
  await expect(harvest.getByLabel("Harvest progress")).toBeVisible({ timeout: 60_000 });
  await screenshot(page, "harvest-now-running");
  await expect(harvest.getByText("completed", { exact: true })).toBeVisible({ timeout: 90_000 });
  await expect(harvest.getByText("40 of 40 files")).toBeVisible();
  await screenshot(page, "harvest-now-completed");
});
