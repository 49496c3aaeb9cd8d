import { Group, Select, Text } from "@mantine/core";
import { useState } from "react";
import { nameOf, useInstruments } from "../api/lookups";
import type { HarvestRun } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { RUN_COLUMNS } from "../components/runColumns";
import { usePaged } from "../components/usePaged";

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
          RUN_COLUMNS.started,
          { header: "Instrument", cell: (run) => nameOf(instruments.data?.items, run.instrument_id) },
          RUN_COLUMNS.status,
          {
            header: "Files",
            cell: (run) => (
              <Text size="sm">
                {run.files_completed} copied · {run.files_failed} failed · {run.files_skipped} skipped
              </Text>
            ),
          },
          RUN_COLUMNS.bytes,
          RUN_COLUMNS.duration,
        ]}
      />
    </>
  );
}
