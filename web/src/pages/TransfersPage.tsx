import { Anchor, Badge, Text } from "@mantine/core";
import { Link } from "react-router";
import type { Transfer } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { StatusBadge } from "../components/StatusBadge";
import { usePaged } from "../components/usePaged";
import { formatBytes, formatDateTime } from "../format";

export function TransfersPage() {
  const paged = usePaged<Transfer>("/api/transfers");
  return (
    <>
      <PageHeader title="Transfers" description="Every copy of your files into storage, with its checksum check." />
      <PagedTable
        label="Transfers"
        paged={paged}
        rowKey={(transfer) => transfer.id}
        empty={{ title: "No transfers yet", hint: "Transfers appear when files you may see are harvested." }}
        columns={[
          {
            header: "File",
            cell: (transfer) => (
              <Anchor component={Link} to={`/files/${transfer.file_id}`} size="sm">
                {transfer.destination_path?.split("/").pop() ?? transfer.file_id.slice(0, 8)}
              </Anchor>
            ),
          },
          { header: "Status", cell: (transfer) => <StatusBadge status={transfer.status} /> },
          {
            header: "Checksum",
            cell: (transfer) => (
              <Badge color={transfer.checksum_verified ? "green" : "gray"} variant="outline">
                {transfer.checksum_verified ? "verified" : "not verified"}
              </Badge>
            ),
          },
          { header: "Bytes", cell: (transfer) => formatBytes(transfer.bytes_transferred) },
          { header: "Attempt", cell: (transfer) => transfer.attempt },
          { header: "Completed", cell: (transfer) => formatDateTime(transfer.completed_at) },
          {
            header: "Error",
            cell: (transfer) =>
              transfer.error_message ? (
                <Text size="xs" c="red">
                  {transfer.error_message}
                </Text>
              ) : (
                "—"
              ),
          },
        ]}
      />
    </>
  );
}
