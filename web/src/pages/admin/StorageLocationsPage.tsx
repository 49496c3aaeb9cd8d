import { Badge, Button, Group, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import type { StorageLocation } from "../../api/types";
import { createOrUpdate, useSave } from "../../api/useSave";
import { FormActions } from "../../components/FormActions";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { ConnectionFields } from "./ConnectionFields";
import { configToForm, formToConfig, missingFields, STORAGE_FIELDS, STORAGE_TYPES, type ConfigValues } from "./connectionFields";
import { ConnectionTestResult, RowActions, ShowDeleted, useAdminList, useConnectionTest } from "./common";
import { EditorModal, type Editing } from "./EditorModal";

const COLLECTION = "/api/storage-locations";

interface FormState {
  name: string;
  type: string;
  base_path: string;
  checksum_algorithm: string;
  enabled: boolean;
  config: ConfigValues;
}

function initial(item: StorageLocation | null): FormState {
  const type = item?.type ?? "posix";
  return {
    name: item?.name ?? "",
    type,
    base_path: item?.base_path ?? "",
    checksum_algorithm: item?.checksum_algorithm ?? "xxh3-128",
    enabled: item?.enabled ?? true,
    config: configToForm(STORAGE_FIELDS[type], item?.connection_config),
  };
}

export function StorageForm({ item, onDone }: { item: StorageLocation | null; onDone: () => void }) {
  const [state, setStateValue] = useState<FormState>(() => initial(item));
  // Updates from the latest state: several keystrokes may land before a re-render.
  const setState = (patch: Partial<FormState> | ((current: FormState) => Partial<FormState>)) =>
    setStateValue((current) => ({ ...current, ...(typeof patch === "function" ? patch(current) : patch) }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const fields = STORAGE_FIELDS[state.type] ?? [];
  const stored = item?.type === state.type ? item.connection_config : undefined;
  const save = useSave({
    collection: COLLECTION,
    send: () => {
      const body = {
        name: state.name.trim(),
        type: state.type,
        base_path: state.base_path.trim(),
        checksum_algorithm: state.checksum_algorithm,
        enabled: state.enabled,
        connection_config: formToConfig(fields, state.config, stored),
      };
      return createOrUpdate<StorageLocation>(COLLECTION, item, body);
    },
    onSaved: onDone,
  });
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const found = missingFields(fields, state.config, stored);
    if (!state.name.trim()) found.name = "Name the storage location";
    if (state.type === "posix" && !state.base_path.trim().startsWith("/")) {
      found.base_path = "An absolute directory on the StreamWeave server, e.g. /srv/archive";
    }
    setErrors(found);
    if (Object.keys(found).length === 0) save.mutate();
  };
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        <FormError error={save.error} />
        <TextInput label="Name" required value={state.name} error={errors.name} onChange={(e) => setState({ name: e.currentTarget.value })} />
        <Select
          label="Type"
          data={STORAGE_TYPES}
          value={state.type}
          allowDeselect={false}
          onChange={(type) => {
            const next = type ?? "posix";
            setState({ type: next, config: configToForm(STORAGE_FIELDS[next], item?.type === next ? item.connection_config : undefined) });
            setErrors({});
          }}
        />
        <TextInput
          label={state.type === "posix" ? "Directory" : "Base path"}
          description={state.type === "posix" ? "Absolute path on the StreamWeave server" : "Folder inside the storage where harvests go"}
          required={state.type === "posix"}
          value={state.base_path}
          error={errors.base_path}
          onChange={(e) => setState({ base_path: e.currentTarget.value })}
        />
        <ConnectionFields
          fields={fields}
          values={state.config}
          errors={errors}
          stored={stored}
          onChange={(name, value) => setState((current) => ({ config: { ...current.config, [name]: value } }))}
        />
        <Select
          label="Checksum"
          description="xxh3-128 is fastest; choose SHA-256 or MD5 if a catalogue requires it"
          data={["xxh3-128", "sha256", "md5"]}
          value={state.checksum_algorithm}
          allowDeselect={false}
          onChange={(value) => setState({ checksum_algorithm: value ?? "xxh3-128" })}
        />
        <Switch label="Enabled" checked={state.enabled} onChange={(e) => setState({ enabled: e.currentTarget.checked })} />
        <FormActions submitLabel={item ? "Save changes" : "Create storage location"} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

export function StorageLocationsPage() {
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<StorageLocation>(COLLECTION);
  const [editing, setEditing] = useState<Editing<StorageLocation>>(null);
  const test = useConnectionTest((id) => `${COLLECTION}/${id}/test`);
  return (
    <>
      <PageHeader
        title="Storage locations"
        description="Where harvested data is kept."
        actions={<Button onClick={() => setEditing("new")}>New storage location</Button>}
      />
      <Group mb="sm" justify="space-between">
        <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
      </Group>
      <Stack gap="sm">
        <FormError error={actions.error} />
        <ConnectionTestResult test={test} />
        <PagedTable
          label="Storage locations"
          paged={paged}
          rowKey={(item) => item.id}
          empty={{ title: "No storage locations", hint: "Create one: harvests need somewhere to put the data." }}
          columns={[
            {
              header: "Name",
              cell: (item) => (
                <Group gap={6}>
                  <Text size="sm">{item.name}</Text>
                  {item.deleted_at && <Badge color="gray">deleted</Badge>}
                  {!item.enabled && <Badge color="yellow">disabled</Badge>}
                </Group>
              ),
            },
            { header: "Type", cell: (item) => item.type },
            { header: "Path", cell: (item) => <Text size="sm" ff="monospace">{item.base_path || "—"}</Text> },
            { header: "Checksum", cell: (item) => item.checksum_algorithm },
            {
              header: "Actions",
              cell: (item) => (
                <RowActions item={item} name={item.name} actions={actions} onEdit={() => setEditing(item)}>
                  <Button
                    size="compact-sm"
                    variant="default"
                    onClick={() => test.mutate(item.id)}
                    loading={test.isPending && test.variables === item.id}
                    aria-label={`Test connection of ${item.name}`}
                  >
                    Test
                  </Button>
                </RowActions>
              ),
            },
          ]}
        />
      </Stack>
      <EditorModal editing={editing} noun="storage location" size="lg" onClose={() => setEditing(null)}>
        {(item) => <StorageForm item={item} onDone={() => setEditing(null)} />}
      </EditorModal>
    </>
  );
}
