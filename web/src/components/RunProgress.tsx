import { Alert, Group, Progress, SimpleGrid, Stack, Text } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { api } from "../api/client";
import type { HarvestRun } from "../api/types";
import { estimateSecondsLeft, formatBytes, formatDuration, formatRate } from "../format";
import { ErrorState, LoadingState } from "./States";
import { StatusBadge } from "./StatusBadge";

const POLL_MS = 1_000;

export function useHarvestRun(runId: string) {
  return useQuery({
    queryKey: ["/api/harvest-runs", runId],
    queryFn: ({ signal }) => api.get<HarvestRun>(`/api/harvest-runs/${runId}`, undefined, signal),
    // Counts are updated after every batch while the run is going.
    refetchInterval: (query) => (query.state.data?.status === "running" ? POLL_MS : false),
  });
}

/** Files counted as settled by the run so far, out of those it has to deal with. */
export function runFraction(run: HarvestRun): { done: number; total: number } {
  const done = run.files_completed + run.files_failed + run.files_skipped;
  const total = Math.max(run.files_discovered - run.files_unchanged - run.files_waiting, done);
  return { done, total };
}

function Count({ label, value }: { label: string; value: string | number }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={600}>{value}</Text>
    </div>
  );
}

export function RunSummary({ run }: { run: HarvestRun }) {
  const { done, total } = runFraction(run);
  const running = run.status === "running";
  const percent = total ? Math.round((done / total) * 100) : running ? 0 : 100;
  const eta = running ? estimateSecondsLeft(done, total, run.files_per_second) : null;
  return (
    <Stack gap="sm" aria-live="polite">
      <Group gap="sm">
        <StatusBadge status={run.status} />
        <Text size="sm">
          {done} of {total} files · {formatBytes(run.bytes_transferred)} · {formatRate(run.bytes_per_second)}
          {running && eta !== null ? ` · about ${formatDuration(eta)} left` : ""}
          {!running ? ` · took ${formatDuration(run.duration_seconds)}` : ""}
        </Text>
      </Group>
      <Progress
        value={percent}
        animated={running}
        aria-label="Harvest progress"
        color={run.files_failed ? "orange" : "blue"}
      />
      <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="xs">
        <Count label="Discovered" value={run.files_discovered} />
        <Count label="Copied and verified" value={run.files_completed} />
        <Count label="Failed" value={run.files_failed} />
        <Count label="Skipped by a rule" value={run.files_skipped} />
        <Count label="Waiting to complete" value={run.files_waiting} />
        <Count label="Unchanged" value={run.files_unchanged} />
        <Count label="Gone from the source" value={run.files_vanished} />
        <Count label="Permanently failed" value={run.files_permanently_failed} />
      </SimpleGrid>
      {run.error_message && (
        <Alert color="red" title="The harvest reported an error" role="alert">
          {run.error_message}
        </Alert>
      )}
    </Stack>
  );
}

export function LiveRun({ runId }: { runId: string }) {
  const run = useHarvestRun(runId);
  const client = useQueryClient();
  const status = run.data?.status;
  useEffect(() => {
    // A finished run changes the lists it is in and its instrument's last harvest.
    if (status && status !== "running") {
      void client.invalidateQueries({ queryKey: ["/api/harvest-runs"] });
      void client.invalidateQueries({ queryKey: ["/api/instruments"] });
    }
  }, [status, client]);
  if (run.isPending) return <LoadingState label="Loading the harvest run…" />;
  if (run.isError) return <ErrorState error={run.error} onRetry={() => run.refetch()} />;
  return <RunSummary run={run.data} />;
}
