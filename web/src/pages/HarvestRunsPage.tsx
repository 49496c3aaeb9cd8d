import { Anchor, Group, Select, Text } from "@mantine/core";
import { useState } from "react";
import { Link } from "react-router";
import { nameOf, useInstruments } from "../api/lookups";
import type { HarvestRun } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { StatusBadge } from "../components/StatusBadge";
import { usePaged } from "../components/usePaged";
import { formatBytes, formatDateTime, formatDuration } from "../format";

const STATUSES = [
  { value: "running", label: "Running" },
  { value: "completed", label: "Completed" },
  { value: "completed_with_errors", label: "Completed with errors" },
  { value: "failed", label: "Failed" },
];

export function HarvestRunsPage() {
  const instruments = useInstruments();
  const [instrument, setInstrument] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const paged = usePaged<HarvestRun>("/api/harvest-runs", { instrument_id: instrument, status });
  return (
    <>
      <PageHeader title="Harvest runs" description="Each harvest of an instrument: what it found, copied and failed." />
      <Group mb="md" gap="sm" align="flex-end">
        <Select
          label="Instrument"
          placeholder="Any instrument"
          data={(instruments.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))}
          value={instrument}
          onChange={setInstrument}
          clearable
          searchable
        />
        <Select label="Status" placeholder="Any status" data={STATUSES} value={status} onChange={setStatus} clearable />
      </Group>
      <PagedTable
        label="Harvest runs"
        paged={paged}
        rowKey={(run) => run.id}
        empty={{
          title: "No harvest runs",
          hint: instrument || status ? "No run matches these filters." : "Runs appear once an instrument you may see is harvested.",
        }}
        columns={[
          {
            header: "Started",
            cell: (run) => (
              <Anchor component={Link} to={`/harvest-runs/${run.id}`} size="sm">
                {formatDateTime(run.started_at)}
              </Anchor>
            ),
          },
          { header: "Instrument", cell: (run) => nameOf(instruments.data?.items, run.instrument_id) },
          { header: "Status", cell: (run) => <StatusBadge status={run.status} /> },
          {
            header: "Files",
            cell: (run) => (
              <Text size="sm">
                {run.files_completed} copied · {run.files_failed} failed · {run.files_skipped} skipped
              </Text>
            ),
          },
          { header: "Bytes", cell: (run) => formatBytes(run.bytes_transferred) },
          { header: "Duration", cell: (run) => formatDuration(run.duration_seconds) },
        ]}
      />
    </>
  );
}
