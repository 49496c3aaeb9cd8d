import { Anchor, Button, Checkbox, Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link } from "react-router";
import { api, type Page } from "../../api/client";
import { nameOf, useInstruments } from "../../api/lookups";
import type { HarvestRun } from "../../api/types";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { EmptyState, ErrorState, FormError, LoadingState } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { ThroughputChart, type Point } from "../../components/ThroughputChart";
import { usePaged } from "../../components/usePaged";
import { formatBytes, formatDateTime, formatDuration } from "../../format";

export interface Overdue {
  instrument_id: string;
  instrument_name: string;
  schedule_id: string;
  cron_expression: string;
  timezone: string;
  last_harvested_at: string | null;
  due_at: string;
}

export interface Summary {
  instruments: number;
  instruments_enabled: number;
  storage_locations: number;
  schedules_enabled: number;
  files: number;
  runs_running: number;
  runs_failed_last_24h: number;
  files_failed: number;
  files_permanently_failed: number;
  overdue: Overdue[];
  orchestration_ui_url: string | null;
}

export interface AttentionEntry {
  id: string;
  instrument_id: string;
  instrument_name: string;
  storage_location_id: string;
  source_path: string;
  state: "failed" | "permanently_failed";
  attempts: number;
  last_error: string | null;
  retry_after: string | null;
  updated_at: string;
}

const ATTENTION = "/api/dashboard/attention";

function Stat({ label, value, to, warn }: { label: string; value: ReactNode; to?: string; warn?: boolean }) {
  return (
    <Paper withBorder p="sm" role="group" aria-label={label}>
      <Text size="xs" c="dimmed" fw={600}>
        {label}
      </Text>
      <Text fw={700} size="xl" c={warn ? "red.7" : undefined}>
        {to ? (
          <Anchor component={Link} to={to} inherit>
            {value}
          </Anchor>
        ) : (
          value
        )}
      </Text>
    </Paper>
  );
}

function Counts({ summary }: { summary: Summary }) {
  return (
    <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }} spacing="sm">
      <Stat label="Files" value={summary.files.toLocaleString()} to="/files" />
      <Stat label="Instruments (enabled)" value={`${summary.instruments} (${summary.instruments_enabled})`} to="/admin/instruments" />
      <Stat label="Storage locations" value={summary.storage_locations} to="/admin/storage-locations" />
      <Stat label="Enabled schedules" value={summary.schedules_enabled} to="/admin/schedules" />
      <Stat label="Harvests running" value={summary.runs_running} to="/harvest-runs" />
      <Stat label="Failed harvests, last 24 h" value={summary.runs_failed_last_24h} warn={summary.runs_failed_last_24h > 0} />
      <Stat label="Files waiting for a retry" value={summary.files_failed} warn={summary.files_failed > 0} />
      <Stat label="Files given up on" value={summary.files_permanently_failed} warn={summary.files_permanently_failed > 0} />
      <Stat label="Instruments overdue" value={summary.overdue.length} warn={summary.overdue.length > 0} />
    </SimpleGrid>
  );
}

function Throughput() {
  const [bucket, setBucket] = useState<"hour" | "day">("hour");
  const [measure, setMeasure] = useState<"files" | "bytes">("files");
  const data = useQuery({
    queryKey: ["/api/dashboard/throughput", bucket],
    queryFn: ({ signal }) => api.get<{ points: Point[] }>("/api/dashboard/throughput", { bucket }, signal),
    refetchInterval: 60_000,
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="throughput-heading">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="throughput-heading">
          Throughput
        </Title>
        <Group gap="xs">
          <SegmentedControl
            size="xs"
            aria-label="Measure"
            value={measure}
            onChange={(value) => setMeasure(value as "files" | "bytes")}
            data={[
              { value: "files", label: "Files" },
              { value: "bytes", label: "Bytes" },
            ]}
          />
          <SegmentedControl
            size="xs"
            aria-label="Per"
            value={bucket}
            onChange={(value) => setBucket(value as "hour" | "day")}
            data={[
              { value: "hour", label: "Per hour (48 h)" },
              { value: "day", label: "Per day (30 days)" },
            ]}
          />
        </Group>
      </Group>
      {data.isPending ? (
        <LoadingState label="Loading throughput…" />
      ) : data.isError ? (
        <ErrorState error={data.error} onRetry={() => data.refetch()} />
      ) : (
        <ThroughputChart points={data.data.points} measure={measure} bucket={bucket} />
      )}
    </Paper>
  );
}

function RecentRuns() {
  const instruments = useInstruments();
  const runs = useQuery({
    queryKey: ["/api/harvest-runs", "recent"],
    queryFn: ({ signal }) => api.get<Page<HarvestRun>>("/api/harvest-runs", { limit: 8 }, signal),
    refetchInterval: 10_000,
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="recent-heading">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="recent-heading">
          Recent harvest runs
        </Title>
        <Anchor component={Link} to="/harvest-runs" size="sm">
          All runs
        </Anchor>
      </Group>
      {runs.isPending ? (
        <LoadingState label="Loading runs…" />
      ) : runs.isError ? (
        <ErrorState error={runs.error} onRetry={() => runs.refetch()} />
      ) : runs.data.items.length === 0 ? (
        <EmptyState title="No harvests yet">Runs appear here once an instrument is harvested.</EmptyState>
      ) : (
        <Stack gap={6}>
          {runs.data.items.map((run) => (
            <Group key={run.id} justify="space-between" wrap="nowrap" gap="xs">
              <Anchor component={Link} to={`/harvest-runs/${run.id}`} size="sm" truncate>
                {nameOf(instruments.data?.items, run.instrument_id)} · {formatDateTime(run.started_at)}
              </Anchor>
              <Group gap={6} wrap="nowrap">
                <Text size="xs" c="dimmed">
                  {run.files_completed} files · {formatBytes(run.bytes_transferred)} · {formatDuration(run.duration_seconds)}
                </Text>
                <StatusBadge status={run.status} />
              </Group>
            </Group>
          ))}
        </Stack>
      )}
    </Paper>
  );
}

function FailedFiles() {
  const client = useQueryClient();
  const paged = usePaged<AttentionEntry>(ATTENTION, {}, 10);
  const [selected, setSelected] = useState<string[]>([]);
  const retry = useMutation({
    mutationFn: (ids: string[]) => api.post<{ retried: number }>(`${ATTENTION}/retry`, { entry_ids: ids }),
    onSuccess: () => {
      setSelected([]);
      void client.invalidateQueries({ queryKey: [ATTENTION] });
      void client.invalidateQueries({ queryKey: ["/api/dashboard"] });
    },
  });
  const toggle = (id: string, on: boolean) => setSelected((current) => (on ? [...current, id] : current.filter((item) => item !== id)));
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Text fw={600} size="sm">
          Files that failed
        </Text>
        <Button size="xs" disabled={selected.length === 0} loading={retry.isPending} onClick={() => retry.mutate(selected)}>
          Retry selected ({selected.length})
        </Button>
      </Group>
      <FormError error={retry.error} />
      {retry.data && (
        <Text size="sm" role="status">
          {retry.data.retried} file(s) will be retried at the next harvest of their instrument; use "Harvest now" on the instrument to retry at once.
        </Text>
      )}
      <PagedTable
        label="Files that failed"
        paged={paged}
        rowKey={(entry) => entry.id}
        empty={{ title: "No failed files", hint: "Every discovered file was copied, skipped by a rule, or is waiting to complete." }}
        columns={[
          {
            header: "",
            width: 36,
            cell: (entry) => (
              <Checkbox
                aria-label={`Select ${entry.source_path}`}
                checked={selected.includes(entry.id)}
                onChange={(event) => toggle(entry.id, event.currentTarget.checked)}
              />
            ),
          },
          {
            header: "File",
            cell: (entry) => (
              <Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }}>
                {entry.source_path}
              </Text>
            ),
          },
          {
            header: "Instrument",
            cell: (entry) => (
              <Anchor component={Link} to={`/admin/instruments/${entry.instrument_id}`} size="sm">
                {entry.instrument_name}
              </Anchor>
            ),
          },
          {
            header: "State",
            cell: (entry) =>
              entry.state === "permanently_failed" ? (
                <StatusBadge status="failed" />
              ) : (
                <Text size="xs">retry {entry.retry_after ? `after ${formatDateTime(entry.retry_after)}` : "at next harvest"}</Text>
              ),
          },
          { header: "Attempts", cell: (entry) => entry.attempts },
          {
            header: "Error",
            cell: (entry) => (
              <Text size="xs" c="red.8">
                {entry.last_error ?? "—"}
              </Text>
            ),
          },
        ]}
      />
    </Stack>
  );
}

function Attention({ summary }: { summary: Summary }) {
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="attention-heading">
      <Title order={2} size="h4" id="attention-heading" mb="sm">
        Needs attention
      </Title>
      <Stack gap="md">
        {summary.overdue.length > 0 ? (
          <Stack gap={4}>
            <Text fw={600} size="sm">
              Instruments not harvested on schedule
            </Text>
            {summary.overdue.map((item) => (
              <Text size="sm" key={item.schedule_id}>
                <Anchor component={Link} to={`/admin/instruments/${item.instrument_id}`}>
                  {item.instrument_name}
                </Anchor>{" "}
                was due {formatDateTime(item.due_at)} ({item.cron_expression}, {item.timezone}); last harvested{" "}
                {formatDateTime(item.last_harvested_at)}. Check its harvest runs and the worker.
              </Text>
            ))}
          </Stack>
        ) : (
          <Text size="sm" c="dimmed">
            Every enabled instrument was harvested on schedule.
          </Text>
        )}
        <FailedFiles />
      </Stack>
    </Paper>
  );
}

export function DashboardPage() {
  const summary = useQuery({
    queryKey: ["/api/dashboard"],
    queryFn: ({ signal }) => api.get<Summary>("/api/dashboard", undefined, signal),
    refetchInterval: 30_000,
  });
  return (
    <>
      <PageHeader
        title="Dashboard"
        description="The state of the lab's harvests, computed by the server."
        actions={
          summary.data?.orchestration_ui_url ? (
            <Button component="a" href={summary.data.orchestration_ui_url} target="_blank" rel="noopener" variant="default">
              Open the orchestration UI (Prefect)
            </Button>
          ) : undefined
        }
      />
      {summary.isPending ? (
        <LoadingState label="Loading the dashboard…" />
      ) : summary.isError ? (
        <ErrorState error={summary.error} onRetry={() => summary.refetch()} />
      ) : (
        <Stack gap="md">
          <Counts summary={summary.data} />
          <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
            <Throughput />
            <RecentRuns />
          </SimpleGrid>
          <Attention summary={summary.data} />
        </Stack>
      )}
    </>
  );
}
