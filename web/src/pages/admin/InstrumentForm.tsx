import { Group, NumberInput, Paper, Select, SimpleGrid, Stack, Switch, TextInput, Textarea, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, type Page } from "../../api/client";
import type { CompletionRule, Instrument, ServiceAccount } from "../../api/types";
import { createOrUpdate, useSave } from "../../api/useSave";
import { FormActions } from "../../components/FormActions";
import { FormError } from "../../components/States";
import { ConnectionFields } from "./ConnectionFields";
import { configToForm, formToConfig, missingFields, SOURCE_FIELDS, SOURCE_TYPES, type ConfigValues } from "./connectionFields";

export const INSTRUMENTS = "/api/instruments";

interface State {
  name: string;
  description: string;
  location: string;
  pid: string;
  source_type: string;
  cifs_host: string;
  cifs_port: number | string;
  cifs_share: string;
  cifs_base_path: string;
  service_account_id: string;
  config: ConfigValues;
  rule_mode: CompletionRule["mode"];
  quiet_seconds: number | string;
  marker: string;
  enabled: boolean;
}

function initial(item: Instrument | null): State {
  const rule = item?.completion_rule ?? { mode: "quiet_period", seconds: 60 };
  const type = item?.source_type ?? "local";
  return {
    name: item?.name ?? "",
    description: item?.description ?? "",
    location: item?.location ?? "",
    pid: item?.pid ?? "",
    source_type: type,
    cifs_host: item?.cifs_host ?? "",
    cifs_port: item?.cifs_port ?? 445,
    cifs_share: item?.cifs_share ?? "",
    cifs_base_path: item?.cifs_base_path ?? "",
    service_account_id: item?.service_account_id ?? "",
    config: configToForm(SOURCE_FIELDS[type], item?.source_config),
    rule_mode: rule.mode,
    quiet_seconds: rule.mode === "quiet_period" ? rule.seconds : 60,
    marker: rule.mode === "marker" ? rule.marker : "",
    enabled: item?.enabled ?? true,
  };
}

export function completionRule(state: Pick<State, "rule_mode" | "quiet_seconds" | "marker">): CompletionRule {
  if (state.rule_mode === "quiet_period") return { mode: "quiet_period", seconds: Number(state.quiet_seconds) };
  if (state.rule_mode === "marker") return { mode: "marker", marker: state.marker.trim() };
  return { mode: "none" };
}

export function InstrumentForm({ item }: { item: Instrument | null }) {
  const navigate = useNavigate();
  const [state, setState] = useState<State>(() => initial(item));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const set = (patch: Partial<State>) => setState((current) => ({ ...current, ...patch }));
  const accounts = useQuery({
    queryKey: ["/api/service-accounts", "lookup"],
    queryFn: ({ signal }) => api.get<Page<ServiceAccount>>("/api/service-accounts", { limit: 500 }, signal),
  });
  const fields = SOURCE_FIELDS[state.source_type] ?? [];
  const stored = item?.source_type === state.source_type ? item.source_config : undefined;
  const cifs = state.source_type === "cifs";

  const save = useSave({
    collection: INSTRUMENTS,
    send: () => {
      const text = (value: string) => value.trim() || null;
      const body: Record<string, unknown> = {
        name: state.name.trim(),
        description: text(state.description),
        location: text(state.location),
        pid: text(state.pid),
        source_type: state.source_type,
        source_config: formToConfig(fields, state.config, stored),
        service_account_id: state.service_account_id || null,
        completion_rule: completionRule(state),
        enabled: state.enabled,
      };
      if (cifs) {
        Object.assign(body, {
          cifs_host: text(state.cifs_host),
          cifs_port: Number(state.cifs_port) || 445,
          cifs_share: text(state.cifs_share),
          cifs_base_path: text(state.cifs_base_path),
        });
      }
      return createOrUpdate<Instrument>(INSTRUMENTS, item, body);
    },
    onSaved: (saved) => navigate(`/admin/instruments/${saved.id}`),
  });

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const found = missingFields(fields, state.config, stored);
    if (!state.name.trim()) found.name = "Name the instrument";
    if (cifs && !state.cifs_host.trim()) found.cifs_host = "Enter the SMB server's host name";
    if (cifs && !state.cifs_share.trim()) found.cifs_share = "Enter the share name";
    if (cifs && !state.service_account_id) found.service_account_id = "SMB shares are read with a service account: choose one";
    if (state.rule_mode === "marker" && !state.marker.trim()) found.marker = "Name the marker file, e.g. RTAComplete.txt";
    setErrors(found);
    if (Object.keys(found).length === 0) save.mutate();
  };

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="md">
        <FormError error={save.error} />
        <Paper withBorder p="md">
          <Title order={2} size="h5" mb="sm">
            Instrument
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput label="Name" required value={state.name} error={errors.name} onChange={(e) => set({ name: e.currentTarget.value })} />
            <TextInput label="Location" placeholder="Building B, room 2.14" value={state.location} onChange={(e) => set({ location: e.currentTarget.value })} />
            <TextInput label="Instrument PID" value={state.pid} onChange={(e) => set({ pid: e.currentTarget.value })} />
            <Switch label="Enabled (harvested on its schedules)" checked={state.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} mt="lg" />
          </SimpleGrid>
          <Textarea label="Description" mt="sm" autosize minRows={2} value={state.description} onChange={(e) => set({ description: e.currentTarget.value })} />
        </Paper>
        <Paper withBorder p="md">
          <Title order={2} size="h5" mb="sm">
            Source
          </Title>
          <Stack gap="sm">
            <Select
              label="Source type"
              data={SOURCE_TYPES}
              value={state.source_type}
              allowDeselect={false}
              onChange={(value) => {
                const type = value ?? "local";
                set({ source_type: type, config: configToForm(SOURCE_FIELDS[type], item?.source_type === type ? item.source_config : undefined) });
                setErrors({});
              }}
            />
            {cifs && (
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
                <TextInput label="SMB host" required value={state.cifs_host} error={errors.cifs_host} onChange={(e) => set({ cifs_host: e.currentTarget.value })} />
                <NumberInput label="Port" min={1} max={65535} value={state.cifs_port} onChange={(value) => set({ cifs_port: value })} />
                <TextInput label="Share" required value={state.cifs_share} error={errors.cifs_share} onChange={(e) => set({ cifs_share: e.currentTarget.value })} />
                <TextInput label="Folder in the share" value={state.cifs_base_path} onChange={(e) => set({ cifs_base_path: e.currentTarget.value })} />
              </SimpleGrid>
            )}
            <ConnectionFields
              fields={fields}
              values={state.config}
              errors={errors}
              stored={stored}
              onChange={(name, value) => setState((current) => ({ ...current, config: { ...current.config, [name]: value } }))}
            />
            <Select
              label="Service account"
              description={cifs ? "The account that reads the share" : "Only SMB sources use one"}
              placeholder={accounts.isPending ? "Loading…" : "None"}
              data={(accounts.data?.items ?? []).filter((a) => !a.deleted_at).map((a) => ({ value: a.id, label: a.name }))}
              value={state.service_account_id || null}
              error={errors.service_account_id}
              clearable
              onChange={(value) => set({ service_account_id: value ?? "" })}
            />
          </Stack>
        </Paper>
        <Paper withBorder p="md">
          <Title order={2} size="h5" mb="sm">
            Completion rule
          </Title>
          <Group align="flex-start" gap="sm">
            <Select
              label="A file is complete"
              w={320}
              allowDeselect={false}
              data={[
                { value: "quiet_period", label: "when unchanged for a while" },
                { value: "marker", label: "when a marker file appears in its folder" },
                { value: "none", label: "as soon as it is seen" },
              ]}
              value={state.rule_mode}
              onChange={(value) => set({ rule_mode: (value as CompletionRule["mode"]) ?? "quiet_period" })}
            />
            {state.rule_mode === "quiet_period" && (
              <NumberInput label="Unchanged for (seconds)" min={0} max={604800} value={state.quiet_seconds} onChange={(value) => set({ quiet_seconds: value })} />
            )}
            {state.rule_mode === "marker" && (
              <TextInput label="Marker file name" placeholder="RTAComplete.txt" value={state.marker} error={errors.marker} onChange={(e) => set({ marker: e.currentTarget.value })} />
            )}
          </Group>
        </Paper>
        <FormActions
          submitLabel={item ? "Save changes" : "Create instrument"}
          pending={save.isPending}
          onCancel={() => navigate(item ? `/admin/instruments/${item.id}` : "/admin/instruments")}
        />
      </Stack>
    </form>
  );
}
