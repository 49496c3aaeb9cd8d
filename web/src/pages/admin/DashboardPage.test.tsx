import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeServer, page, renderPage } from "../../test/render";
import { DashboardPage, type AttentionEntry, type Summary } from "./DashboardPage";

afterEach(() => vi.unstubAllGlobals());

const summary: Summary = {
  instruments: 3,
  instruments_enabled: 2,
  storage_locations: 1,
  schedules_enabled: 2,
  files: 12345,
  runs_running: 1,
  runs_failed_last_24h: 2,
  files_failed: 1,
  files_permanently_failed: 0,
  overdue: [
    {
      instrument_id: "i-2",
      instrument_name: "HPLC",
      schedule_id: "s-1",
      cron_expression: "0 * * * *",
      timezone: "UTC",
      last_harvested_at: null,
      due_at: "2026-03-01T10:00:00Z",
    },
  ],
  orchestration_ui_url: "http://127.0.0.1:4200",
};

const entry: AttentionEntry = {
  id: "e-1",
  instrument_id: "i-1",
  instrument_name: "NMR",
  storage_location_id: "st-1",
  source_path: "run/locked.fid",
  state: "failed",
  attempts: 2,
  last_error: "PermissionDenied: run/locked.fid: permission denied",
  retry_after: "2026-03-01T11:00:00Z",
  updated_at: "2026-03-01T10:00:00Z",
};

function server() {
  return fakeServer((call) => {
    switch (call.url.pathname) {
      case "/api/dashboard":
        return { json: summary };
      case "/api/dashboard/throughput":
        return {
          json: {
            bucket: call.url.searchParams.get("bucket"),
            points: [
              { start: "2026-03-01T09:00:00Z", files: 5, bytes: 2048 },
              { start: "2026-03-01T10:00:00Z", files: 7, bytes: 4096 },
            ],
          },
        };
      case "/api/harvest-runs":
        return { json: page([]) };
      case "/api/instruments":
        return { json: page([]) };
      case "/api/dashboard/attention":
        return { json: page([entry]) };
      case "/api/dashboard/attention/retry":
        return { json: { retried: 1 } };
      default:
        return undefined;
    }
  });
}

describe("DashboardPage", () => {
  it("shows the server's counts, the chart's numbers and what needs attention", async () => {
    server();
    renderPage(<DashboardPage />);
    expect(await screen.findByRole("group", { name: "Files" })).toHaveTextContent("12,345");
    expect(screen.getByRole("group", { name: "Instruments (enabled)" })).toHaveTextContent("3 (2)");
    expect(screen.getByRole("group", { name: "Instruments overdue" })).toHaveTextContent("1");
    expect(screen.getByText(/was due/)).toHaveTextContent("HPLC");
    expect(screen.getByRole("link", { name: "Open the orchestration UI (Prefect)" })).toHaveAttribute("href", "http://127.0.0.1:4200");
    const chart = await screen.findByRole("table", { name: "Verified files per hour" });
    expect(within(chart).getAllByRole("row")).toHaveLength(2);
    expect(chart).toHaveTextContent("7 files");
    expect(await screen.findByText("No harvests yet")).toBeInTheDocument();
  });

  it("retries the failed files chosen", async () => {
    const calls = server();
    renderPage(<DashboardPage />);
    await userEvent.click(await screen.findByRole("checkbox", { name: "Select run/locked.fid" }));
    await userEvent.click(screen.getByRole("button", { name: "Retry selected (1)" }));
    expect(await screen.findByText(/1 file\(s\) will be retried/)).toBeInTheDocument();
    const retry = calls.find((call) => call.url.pathname === "/api/dashboard/attention/retry");
    expect(JSON.parse(String(retry?.body))).toEqual({ entry_ids: ["e-1"] });
  });
});
