import { Anchor, Badge, Button, Group, Text } from "@mantine/core";
import { Link } from "react-router";
import type { Instrument } from "../../api/types";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { formatDateTime } from "../../format";
import { DeleteRestore, ShowDeleted, useAdminList } from "./common";
import { INSTRUMENTS } from "./InstrumentForm";

export function sourceSummary(item: Instrument): string {
  if (item.source_type === "cifs") return `smb://${item.cifs_host ?? "?"}/${item.cifs_share ?? "?"}${item.cifs_base_path ? `/${item.cifs_base_path}` : ""}`;
  const config = item.source_config ?? {};
  const where = config.path ?? config.url ?? config.bucket ?? config.host ?? "";
  return `${item.source_type}: ${String(where)}`;
}

export function InstrumentsPage() {
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<Instrument>(INSTRUMENTS);
  return (
    <>
      <PageHeader
        title="Instruments"
        description="The lab instruments StreamWeave harvests."
        actions={
          <Button component={Link} to="/admin/instruments/new">
            New instrument
          </Button>
        }
      />
      <Group mb="sm">
        <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
      </Group>
      <FormError error={actions.error} />
      <PagedTable
        label="Instruments"
        paged={paged}
        rowKey={(item) => item.id}
        empty={{ title: "No instruments", hint: "Add the first instrument to start harvesting its data." }}
        columns={[
          {
            header: "Name",
            cell: (item) => (
              <Group gap={6}>
                <Anchor component={Link} to={`/admin/instruments/${item.id}`} size="sm">
                  {item.name}
                </Anchor>
                {item.deleted_at && <Badge color="gray">deleted</Badge>}
                {!item.enabled && <Badge color="yellow">disabled</Badge>}
              </Group>
            ),
          },
          { header: "Source", cell: (item) => <Text size="sm" ff="monospace">{sourceSummary(item)}</Text> },
          { header: "Last harvested", cell: (item) => formatDateTime(item.last_harvested_at) },
          { header: "Actions", cell: (item) => <DeleteRestore item={item} name={item.name} actions={actions} /> },
        ]}
      />
    </>
  );
}
