import { Badge, Button, Group, List, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import cronstrue from "cronstrue";
import { useState } from "react";
import { api } from "../../api/client";
import { nameOf, useInstruments, useStorageLocations } from "../../api/lookups";
import type { Schedule } from "../../api/types";
import { createOrUpdate, useSave } from "../../api/useSave";
import { FormActions } from "../../components/FormActions";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { formatDateTime } from "../../format";
import { RowActions, ShowDeleted, useAdminList } from "./common";
import { EditorModal, type Editing } from "./EditorModal";

const COLLECTION = "/api/schedules";

/** The cron expression in words, or null when cronstrue cannot read it. */
export function describeCron(expression: string): string | null {
  try {
    return cronstrue.toString(expression, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return null;
  }
}

const TIME_ZONES: string[] =
  typeof Intl.supportedValuesOf === "function" ? ["UTC", ...Intl.supportedValuesOf("timeZone").filter((zone) => zone !== "UTC")] : ["UTC"];

function NextRuns({ cron, timezone }: { cron: string; timezone: string }) {
  const [debounced] = useDebouncedValue({ cron: cron.trim(), timezone }, 400);
  const preview = useQuery({
    queryKey: ["/api/cron/preview", debounced],
    queryFn: ({ signal }) =>
      api.get<{ next_runs: string[] }>("/api/cron/preview", { cron_expression: debounced.cron, timezone: debounced.timezone, count: 5 }, signal),
    enabled: debounced.cron.length > 0,
  });
  if (!debounced.cron) return null;
  // Never show the runs of what was typed before.
  if (debounced.cron !== cron.trim() || debounced.timezone !== timezone || preview.isFetching) {
    return <Text size="sm" c="dimmed" role="status">Working out the next runs…</Text>;
  }
  if (preview.isError) return <Text size="sm" c="red" role="alert">{preview.error.message}</Text>;
  if (!preview.data) return null;
  return (
    <div>
      <Text size="sm" fw={600}>
        Next runs ({debounced.timezone})
      </Text>
      <List size="sm" aria-label="Next runs">
        {preview.data.next_runs.map((time) => (
          <List.Item key={time}>{new Date(time).toLocaleString(undefined, { timeZone: debounced.timezone, dateStyle: "medium", timeStyle: "short" })}</List.Item>
        ))}
      </List>
    </div>
  );
}

function ScheduleForm({ item, onDone }: { item: Schedule | null; onDone: () => void }) {
  const instruments = useInstruments();
  const storage = useStorageLocations();
  const [state, setState] = useState({
    instrument_id: item?.instrument_id ?? "",
    default_storage_location_id: item?.default_storage_location_id ?? "",
    cron_expression: item?.cron_expression ?? "0 * * * *",
    timezone: item?.timezone ?? "UTC",
    enabled: item?.enabled ?? true,
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const description = describeCron(state.cron_expression);
  const save = useSave({ collection: COLLECTION, send: () => createOrUpdate(COLLECTION, item, state), onSaved: onDone });
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!state.instrument_id) found.instrument_id = "Choose the instrument to harvest";
    if (!state.default_storage_location_id) found.default_storage_location_id = "Choose where its data goes";
    if (!state.cron_expression.trim()) found.cron_expression = "Enter when to run, e.g. 0 * * * * (every hour)";
    setErrors(found);
    if (Object.keys(found).length === 0) save.mutate();
  };
  const live = (items: { id: string; name: string; deleted_at: string | null }[] | undefined) =>
    (items ?? []).filter((entry) => !entry.deleted_at).map((entry) => ({ value: entry.id, label: entry.name }));
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        <FormError error={save.error} />
        <Select
          label="Instrument"
          required
          searchable
          data={live(instruments.data?.items)}
          value={state.instrument_id || null}
          error={errors.instrument_id}
          onChange={(value) => setState((current) => ({ ...current, instrument_id: value ?? "" }))}
        />
        <Select
          label="Storage location"
          required
          searchable
          data={live(storage.data?.items)}
          value={state.default_storage_location_id || null}
          error={errors.default_storage_location_id}
          onChange={(value) => setState((current) => ({ ...current, default_storage_location_id: value ?? "" }))}
        />
        <TextInput
          label="Cron expression"
          description={description ?? "minute hour day-of-month month day-of-week"}
          required
          styles={{ input: { fontFamily: "monospace" } }}
          value={state.cron_expression}
          error={errors.cron_expression}
          onChange={(event) => {
            const cron_expression = event.currentTarget.value;
            setState((current) => ({ ...current, cron_expression }));
          }}
        />
        <Select
          label="Time zone"
          searchable
          data={TIME_ZONES}
          value={state.timezone}
          allowDeselect={false}
          onChange={(value) => setState((current) => ({ ...current, timezone: value ?? "UTC" }))}
        />
        <NextRuns cron={state.cron_expression} timezone={state.timezone} />
        <Switch label="Enabled" checked={state.enabled} onChange={(event) => {
            const enabled = event.currentTarget.checked;
            setState((current) => ({ ...current, enabled }));
          }} />
        <FormActions submitLabel={item ? "Save changes" : "Create schedule"} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

export function SchedulesPage() {
  const client = useQueryClient();
  const instruments = useInstruments();
  const storage = useStorageLocations();
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<Schedule>(COLLECTION);
  const [editing, setEditing] = useState<Editing<Schedule>>(null);
  const toggle = useMutation({
    mutationFn: (item: Schedule) => api.patch(`${COLLECTION}/${item.id}`, { enabled: !item.enabled }),
    onSuccess: () => client.invalidateQueries({ queryKey: [COLLECTION] }),
  });
  return (
    <>
      <PageHeader
        title="Schedules"
        description="When each instrument is harvested, and into which storage location."
        actions={<Button onClick={() => setEditing("new")}>New schedule</Button>}
      />
      <Group mb="sm">
        <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
      </Group>
      <FormError error={actions.error ?? toggle.error} />
      <PagedTable
        label="Schedules"
        paged={paged}
        rowKey={(item) => item.id}
        empty={{ title: "No schedules", hint: "A schedule harvests an instrument into a storage location on a cron." }}
        columns={[
          {
            header: "Instrument",
            cell: (item) => (
              <Group gap={6}>
                <Text size="sm">{nameOf(instruments.data?.items, item.instrument_id)}</Text>
                {item.deleted_at && <Badge color="gray">deleted</Badge>}
              </Group>
            ),
          },
          { header: "Storage", cell: (item) => nameOf(storage.data?.items, item.default_storage_location_id) },
          {
            header: "When",
            cell: (item) => (
              <Stack gap={0}>
                <Text size="sm">{describeCron(item.cron_expression) ?? item.cron_expression}</Text>
                <Text size="xs" c="dimmed" ff="monospace">
                  {item.cron_expression} ({item.timezone})
                </Text>
              </Stack>
            ),
          },
          {
            header: "Enabled",
            cell: (item) => (
              <Switch
                checked={item.enabled}
                disabled={Boolean(item.deleted_at)}
                onChange={() => toggle.mutate(item)}
                aria-label={`Schedule of ${nameOf(instruments.data?.items, item.instrument_id)} enabled`}
              />
            ),
          },
          { header: "Updated", cell: (item) => formatDateTime(item.updated_at) },
          {
            header: "Actions",
            cell: (item) => (
              <RowActions item={item} name="this schedule" editLabel="Edit schedule" actions={actions} onEdit={() => setEditing(item)} />
            ),
          },
        ]}
      />
      <EditorModal editing={editing} noun="schedule" size="lg" onClose={() => setEditing(null)}>
        {(item) => <ScheduleForm item={item} onDone={() => setEditing(null)} />}
      </EditorModal>
    </>
  );
}
