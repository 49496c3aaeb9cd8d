import { Anchor } from "@mantine/core";
import { Link } from "react-router";
import type { Transfer } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { TRANSFER_COLUMNS } from "../components/transferColumns";
import { usePaged } from "../components/usePaged";

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
          TRANSFER_COLUMNS.status,
          TRANSFER_COLUMNS.checksum,
          TRANSFER_COLUMNS.bytes,
          TRANSFER_COLUMNS.attempt,
          TRANSFER_COLUMNS.completed,
          TRANSFER_COLUMNS.error,
        ]}
      />
    </>
  );
}
