import { describe, expect, it } from "vitest";
import type { HarvestRun } from "../../api/types";
import { runFraction } from "../../components/RunProgress";
import { estimateSecondsLeft, formatBytes, formatDuration } from "../../format";
import { findTriggeredRun } from "./HarvestNow";
import { completionRule } from "./InstrumentForm";
import { describeCron } from "./SchedulesPage";

function run(patch: Partial<HarvestRun>): HarvestRun {
  return {
    id: "r", instrument_id: "i", storage_location_id: "s", schedule_id: null, status: "running",
    started_at: "2026-03-01T10:00:00Z", finished_at: null, files_discovered: 0, files_completed: 0,
    files_failed: 0, files_skipped: 0, files_waiting: 0, files_unchanged: 0, files_vanished: 0,
    files_permanently_failed: 0, bytes_transferred: 0, prefect_flow_run_id: null, error_message: null,
    duration_seconds: 0, files_per_second: 0, bytes_per_second: 0, ...patch,
  };
}

describe("schedules and runs", () => {
  it("describes cron expressions in words, and says nothing for nonsense", () => {
    expect(describeCron("0 * * * *")).toBe("Every hour");
    expect(describeCron("30 2 * * 1-5")).toBe("At 02:30, Monday through Friday");
    expect(describeCron("not cron")).toBeNull();
  });
  it("counts progress over the files the run has to deal with", () => {
    expect(runFraction(run({ files_discovered: 100, files_unchanged: 60, files_waiting: 10, files_completed: 20, files_failed: 1, files_skipped: 1 }))).toEqual({ done: 22, total: 30 });
  });
  it("estimates the time left only when it can", () => {
    expect(estimateSecondsLeft(10, 30, 2)).toBe(10);
    expect(estimateSecondsLeft(10, 30, 0)).toBeNull();
    expect(estimateSecondsLeft(30, 30, 5)).toBeNull();
    expect(formatDuration(3725)).toBe("1 h 2 min");
    expect(formatBytes(1536)).toBe("1.50 KiB");
  });
  it("finds the run a Harvest now started", () => {
    const at = Date.parse("2026-03-01T10:00:00Z");
    const old = run({ id: "old", started_at: "2026-03-01T09:00:00Z" });
    const mine = run({ id: "mine", prefect_flow_run_id: "flow-2", started_at: "2026-03-01T09:59:58Z" });
    expect(findTriggeredRun([mine, old], { at, flowRunIds: ["flow-2"] })?.id).toBe("mine");
    expect(findTriggeredRun([old], { at, flowRunIds: ["flow-2"] })).toBeUndefined();
    expect(findTriggeredRun([run({ id: "new", started_at: "2026-03-01T10:00:01Z" }), old], { at, flowRunIds: [] })?.id).toBe("new");
  });
  it("builds the completion rule the API takes", () => {
    expect(completionRule({ rule_mode: "quiet_period", quiet_seconds: "120", marker: "" })).toEqual({ mode: "quiet_period", seconds: 120 });
    expect(completionRule({ rule_mode: "marker", quiet_seconds: 60, marker: " RTAComplete.txt " })).toEqual({ mode: "marker", marker: "RTAComplete.txt" });
    expect(completionRule({ rule_mode: "none", quiet_seconds: 60, marker: "" })).toEqual({ mode: "none" });
  });
});
