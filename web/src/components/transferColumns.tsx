import { Badge, Text } from "@mantine/core";
import type { Transfer } from "../api/types";
import { formatBytes, formatDateTime } from "../format";
import type { Column } from "./PagedTable";
import { StatusBadge } from "./StatusBadge";

/** The columns that read the same in every table of transfers. */
export const TRANSFER_COLUMNS = {
  status: { header: "Status", cell: (transfer) => <StatusBadge status={transfer.status} /> },
  checksum: {
    header: "Checksum",
    cell: (transfer) => (
      <Badge color={transfer.checksum_verified ? "green" : "gray"} variant="outline">
        {transfer.checksum_verified ? "verified" : "not verified"}
      </Badge>
    ),
  },
  bytes: { header: "Bytes", cell: (transfer) => formatBytes(transfer.bytes_transferred) },
  attempt: { header: "Attempt", cell: (transfer) => transfer.attempt },
  completed: { header: "Completed", cell: (transfer) => formatDateTime(transfer.completed_at) },
  error: {
    header: "Error",
    cell: (transfer) =>
      transfer.error_message ? (
        <Text size="xs" c="red.8">
          {transfer.error_message}
        </Text>
      ) : (
        "—"
      ),
  },
} satisfies Record<string, Column<Transfer>>;
