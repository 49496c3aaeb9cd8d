import { Anchor, Button, Group, SegmentedControl, Stack, Text } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import type { HarvestRun, Transfer } from "../api/types";
import { useCurrentUser } from "../auth/session";
import { PagedTable } from "../components/PagedTable";
import { FormError } from "../components/States";
import { TRANSFER_COLUMNS } from "../components/transferColumns";
import { usePaged } from "../components/usePaged";
import { formatDateTime } from "../format";

/** Each file the run copied or failed to copy, with its error; admins can retry failures. */
export function RunFiles({ run }: { run: HarvestRun }) {
  const user = useCurrentUser();
  const client = useQueryClient();
  const [status, setStatus] = useState<string>(run.files_failed ? "failed" : "all");
  const path = `/api/harvest-runs/${run.id}/transfers`;
  const paged = usePaged<Transfer>(path, { status: status === "all" ? undefined : status }, 25, run.status === "running" ? 5_000 : undefined);
  const retry = useMutation({
    mutationFn: () => api.post<{ retried: number }>(`/api/harvest-runs/${run.id}/retry-failed`),
    onSuccess: () => client.invalidateQueries({ queryKey: ["/api/dashboard"] }),
  });
  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <SegmentedControl
          size="xs"
          aria-label="Show"
          value={status}
          onChange={setStatus}
          data={[
            { value: "all", label: "All files" },
            { value: "failed", label: "Failed" },
            { value: "completed", label: "Copied" },
          ]}
        />
        {user.role === "admin" && run.status !== "running" && (
          <Button size="xs" variant="light" onClick={() => retry.mutate()} loading={retry.isPending}>
            Retry failed files
          </Button>
        )}
      </Group>
      <FormError error={retry.error} />
      {retry.data && (
        <Text size="sm" role="status">
          {retry.data.retried} failed file(s) of this instrument will be retried at its next harvest. Use "Harvest now" on{" "}
          <Anchor component={Link} to={`/admin/instruments/${run.instrument_id}`}>
            the instrument
          </Anchor>{" "}
          to retry at once.
        </Text>
      )}
      <PagedTable
        label="Files of this run"
        paged={paged}
        rowKey={(transfer) => transfer.id}
        empty={{
          title: status === "failed" ? "No failed files" : "No files copied by this run",
          hint: "Files that were unchanged, skipped by a rule or still being written are counted above, not listed here.",
        }}
        columns={[
          {
            header: "File",
            cell: (transfer) => (
              <Anchor component={Link} to={`/files/${transfer.file_id}`} size="sm" style={{ wordBreak: "break-all" }}>
                {transfer.destination_path ?? transfer.file_id}
              </Anchor>
            ),
          },
          TRANSFER_COLUMNS.status,
          TRANSFER_COLUMNS.checksum,
          TRANSFER_COLUMNS.bytes,
          TRANSFER_COLUMNS.attempt,
          { header: "At", cell: (transfer) => formatDateTime(transfer.completed_at ?? transfer.created_at) },
          TRANSFER_COLUMNS.error,
        ]}
      />
    </Stack>
  );
}
