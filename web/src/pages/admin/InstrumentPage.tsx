import { Anchor, Badge, Button, Group, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useParams } from "react-router";
import { api, ApiError } from "../../api/client";
import type { HarvestRun, Instrument } from "../../api/types";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { RUN_COLUMNS } from "../../components/runColumns";
import { ErrorState, FormError, LoadingState } from "../../components/States";
import { usePaged } from "../../components/usePaged";
import { formatDateTime } from "../../format";
import { AccessGrants } from "../AccessGrants";
import { NotFoundPage } from "../NotFoundPage";
import { ConnectionTestResult, DeleteRestore, useConnectionTest, useSoftDelete } from "./common";
import { HarvestNow } from "./HarvestNow";
import { InstrumentForm, INSTRUMENTS } from "./InstrumentForm";
import { sourceSummary } from "./InstrumentsPage";

function useInstrument(id: string) {
  return useQuery({
    queryKey: [INSTRUMENTS, id],
    queryFn: ({ signal }) => api.get<Instrument>(`${INSTRUMENTS}/${id}`, undefined, signal),
  });
}

function Loaded({ id, children }: { id: string; children: (item: Instrument) => ReactNode }) {
  const instrument = useInstrument(id);
  if (instrument.isPending) return <LoadingState label="Loading the instrument…" />;
  if (instrument.isError) {
    const status = instrument.error instanceof ApiError ? instrument.error.status : 0;
    if (status === 404 || status === 422) return <NotFoundPage />;
    return <ErrorState error={instrument.error} onRetry={() => instrument.refetch()} />;
  }
  return <>{children(instrument.data)}</>;
}

function RecentRuns({ instrumentId }: { instrumentId: string }) {
  // Polled, so runs started by schedules or by "Harvest now" show up and settle here.
  const paged = usePaged<HarvestRun>("/api/harvest-runs", { instrument_id: instrumentId }, 10, 5_000);
  return (
    <PagedTable
      label="Harvest runs of this instrument"
      paged={paged}
      rowKey={(run) => run.id}
      empty={{ title: "Not harvested yet" }}
      columns={[
        RUN_COLUMNS.started,
        RUN_COLUMNS.status,
        { header: "Copied", cell: (run) => run.files_completed },
        { header: "Failed", cell: (run) => run.files_failed },
        RUN_COLUMNS.bytes,
        RUN_COLUMNS.duration,
      ]}
    />
  );
}

function Details({ item }: { item: Instrument }) {
  const actions = useSoftDelete(INSTRUMENTS);
  const test = useConnectionTest((id) => `${INSTRUMENTS}/${id}/test`);
  const rule = item.completion_rule;
  const ruleText =
    rule?.mode === "quiet_period"
      ? `complete when unchanged for ${rule.seconds} s`
      : rule?.mode === "marker"
        ? `complete when ${rule.marker} appears in its folder`
        : "complete as soon as seen";
  return (
    <>
      <Anchor component={Link} to="/admin/instruments" size="sm">
        ← Instruments
      </Anchor>
      <PageHeader
        title={item.name}
        description={item.description ?? undefined}
        actions={
          <>
            {!item.deleted_at && (
              <Button variant="default" component={Link} to={`/admin/instruments/${item.id}/edit`}>
                Edit
              </Button>
            )}
            <DeleteRestore item={item} name={item.name} actions={actions} />
          </>
        }
      />
      <Stack gap="md">
        <FormError error={actions.error} />
        <Paper withBorder p="md">
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            <div>
              <Text size="xs" c="dimmed" fw={600}>
                Source
              </Text>
              <Text size="sm" ff="monospace">
                {sourceSummary(item)}
              </Text>
            </div>
            <div>
              <Text size="xs" c="dimmed" fw={600}>
                Completion rule
              </Text>
              <Text size="sm">{ruleText}</Text>
            </div>
            <div>
              <Text size="xs" c="dimmed" fw={600}>
                State
              </Text>
              <Group gap={4}>
                {item.deleted_at ? <Badge color="gray">deleted</Badge> : <Badge color={item.enabled ? "green" : "yellow"}>{item.enabled ? "enabled" : "disabled"}</Badge>}
                <Text size="sm">last harvested {formatDateTime(item.last_harvested_at)}</Text>
              </Group>
            </div>
          </SimpleGrid>
          <Group mt="md">
            <Button variant="default" onClick={() => test.mutate(item.id)} loading={test.isPending} disabled={Boolean(item.deleted_at)}>
              Test connection
            </Button>
          </Group>
          <Stack mt="sm">
            <ConnectionTestResult test={test} />
          </Stack>
        </Paper>
        <Paper withBorder p="md" component="section" aria-labelledby="harvest-heading">
          <Title order={2} size="h4" id="harvest-heading" mb="sm">
            Harvest
          </Title>
          <HarvestNow instrumentId={item.id} disabled={Boolean(item.deleted_at) || !item.enabled} />
        </Paper>
        <Paper withBorder p="md" component="section" aria-labelledby="instrument-access-heading">
          <Title order={2} size="h4" id="instrument-access-heading" mb="sm">
            Who may see this instrument
          </Title>
          <AccessGrants
            path={`${INSTRUMENTS}/${item.id}/access`}
            intro="They see the instrument (without its connection details) and its harvest runs. Its files are shared separately: on each file's page, or by an access-assignment hook."
          />
        </Paper>
        <Paper withBorder p="md" component="section" aria-labelledby="runs-heading">
          <Title order={2} size="h4" id="runs-heading" mb="sm">
            Recent harvest runs
          </Title>
          <RecentRuns instrumentId={item.id} />
        </Paper>
      </Stack>
    </>
  );
}

export function InstrumentPage() {
  const { instrumentId = "" } = useParams();
  return <Loaded id={instrumentId}>{(item) => <Details item={item} />}</Loaded>;
}

export function EditInstrumentPage() {
  const { instrumentId = "" } = useParams();
  return (
    <Loaded id={instrumentId}>
      {(item) => (
        <>
          <PageHeader title={`Edit ${item.name}`} />
          <InstrumentForm item={item} />
        </>
      )}
    </Loaded>
  );
}

export function NewInstrumentPage() {
  return (
    <>
      <PageHeader title="New instrument" />
      <InstrumentForm item={null} />
    </>
  );
}
