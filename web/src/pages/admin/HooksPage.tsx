import { ActionIcon, Alert, Badge, Button, Code, Group, JsonInput, NumberInput, Paper, Select, SimpleGrid, Stack, Switch, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Page } from "../../api/client";
import { nameOf, useInstruments } from "../../api/lookups";
import { createOrUpdate, useSave } from "../../api/useSave";
import { FormActions } from "../../components/FormActions";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { canRender, cleanValue, initialValue, SchemaFields, type Schema } from "../../components/SchemaForm";
import { ErrorState, FormError, LoadingState } from "../../components/States";
import { RowActions, ShowDeleted, useAdminList } from "./common";
import { EditorModal, type Editing } from "./EditorModal";

const COLLECTION = "/api/hooks";

export interface Hook {
  id: string;
  name: string;
  description: string | null;
  trigger: "pre_transfer" | "post_transfer";
  implementation: "builtin" | "http_webhook" | "plugin" | "python_script";
  builtin_name: string | null;
  webhook_url: string | null;
  has_webhook_secret: boolean;
  config: Record<string, unknown>;
  instrument_id: string | null;
  priority: number;
  enabled: boolean;
  fail_closed: boolean;
  deleted_at: string | null;
}

interface Builtin {
  name: string;
  display_name: string;
  description: string;
  trigger: "pre_transfer" | "post_transfer";
  config_schema: Schema;
}

interface Plugin {
  name: string;
  trigger: "pre_transfer" | "post_transfer";
  description: string;
  config_schema: Schema | null;
}

interface DryRunResult {
  action: "transfer" | "skip" | "blocked";
  skip_rule: string | null;
  destination_path: string;
  metadata: Record<string, unknown>;
  failures: { hook: string; message: string; blocking: boolean }[];
}

const TRIGGERS = [
  { value: "pre_transfer", label: "Before transfer" },
  { value: "post_transfer", label: "After transfer" },
];

function useCatalog() {
  const builtins = useQuery({
    queryKey: ["/api/hooks/builtins"],
    queryFn: ({ signal }) => api.get<Builtin[]>("/api/hooks/builtins", undefined, signal),
    staleTime: 300_000,
  });
  const plugins = useQuery({
    queryKey: ["/api/hooks/plugins"],
    queryFn: ({ signal }) => api.get<Plugin[]>("/api/hooks/plugins", undefined, signal),
    staleTime: 300_000,
  });
  return { builtins, plugins };
}

interface EditorState {
  name: string;
  description: string;
  kind: string; // "builtin:<name>", "plugin:<name>" or "webhook"
  trigger: "pre_transfer" | "post_transfer";
  webhook_url: string;
  webhook_secret: string;
  config: Record<string, unknown>;
  configText: string;
  instrument_id: string;
  priority: number | string;
  enabled: boolean;
  fail_closed: boolean;
}

function HookEditor({ item, onDone }: { item: Hook | null; onDone: () => void }) {
  const { builtins, plugins } = useCatalog();
  const instruments = useInstruments();
  const kindOfItem = item
    ? item.implementation === "http_webhook"
      ? "webhook"
      : `${item.implementation === "plugin" ? "plugin" : "builtin"}:${item.builtin_name}`
    : "builtin:file_filter";
  const [state, setState] = useState<EditorState>(() => ({
    name: item?.name ?? "",
    description: item?.description ?? "",
    kind: kindOfItem,
    trigger: item?.trigger ?? "pre_transfer",
    webhook_url: item?.webhook_url ?? "",
    webhook_secret: "",
    config: item?.config ?? {},
    configText: JSON.stringify(item?.config ?? {}, null, 2),
    instrument_id: item?.instrument_id ?? "",
    priority: item?.priority ?? 100,
    enabled: item?.enabled ?? true,
    fail_closed: item?.fail_closed ?? false,
  }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const set = (patch: Partial<EditorState>) => setState((current) => ({ ...current, ...patch }));
  const [family, target] = state.kind.split(":");
  const builtin = family === "builtin" ? builtins.data?.find((hook) => hook.name === target) : undefined;
  const plugin = family === "plugin" ? plugins.data?.find((hook) => hook.name === target) : undefined;
  const schema: Schema | null = builtin?.config_schema ?? plugin?.config_schema ?? null;
  const structured = schema !== null && canRender(schema);

  const choose = (kind: string) => {
    const [nextFamily, nextTarget] = kind.split(":");
    const hook = nextFamily === "builtin" ? builtins.data?.find((h) => h.name === nextTarget) : nextFamily === "plugin" ? plugins.data?.find((h) => h.name === nextTarget) : undefined;
    const config = hook?.config_schema ? initialValue(hook.config_schema) : {};
    set({ kind, trigger: hook?.trigger ?? state.trigger, config, configText: JSON.stringify(config, null, 2) });
  };

  const save = useSave({
    collection: COLLECTION,
    send: (config: Record<string, unknown>) => {
      const body: Record<string, unknown> = {
        name: state.name.trim(),
        description: state.description.trim() || null,
        trigger: state.trigger,
        implementation: family === "webhook" ? "http_webhook" : family,
        builtin_name: family === "webhook" ? null : target,
        webhook_url: family === "webhook" ? state.webhook_url.trim() : null,
        config,
        instrument_id: state.instrument_id || null,
        priority: Number(state.priority),
        enabled: state.enabled,
        fail_closed: state.fail_closed,
      };
      if (family === "webhook") {
        if (state.webhook_secret) body.webhook_secret = state.webhook_secret;
        else if (item?.has_webhook_secret) body.webhook_secret = "****";
      }
      return createOrUpdate(COLLECTION, item, body);
    },
    onSaved: onDone,
  });

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!state.name.trim()) found.name = "Name the hook";
    if (family === "webhook" && !/^https?:\/\//.test(state.webhook_url.trim())) found.webhook_url = "An http:// or https:// address";
    if (family === "webhook" && state.webhook_secret && state.webhook_secret.length < 16) found.webhook_secret = "At least 16 characters";
    let config: Record<string, unknown> = {};
    if (structured && schema) config = cleanValue(schema, state.config);
    else {
      try {
        config = JSON.parse(state.configText || "{}") as Record<string, unknown>;
      } catch {
        found.configText = "Not valid JSON";
      }
    }
    setErrors(found);
    if (Object.keys(found).length === 0) save.mutate(config);
  };

  const kinds = [
    ...(builtins.data ?? []).map((hook) => ({ value: `builtin:${hook.name}`, label: `${hook.display_name} (built-in)` })),
    ...(plugins.data ?? []).map((hook) => ({ value: `plugin:${hook.name}`, label: `${hook.name} (plugin)` })),
    { value: "webhook", label: "HTTP webhook" },
  ];
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        <FormError error={save.error ?? builtins.error} />
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput label="Name" required value={state.name} error={errors.name} onChange={(e) => set({ name: e.currentTarget.value })} />
          <Select label="Hook" data={kinds} value={state.kind} allowDeselect={false} onChange={(value) => value && choose(value)} disabled={Boolean(item)} />
          <Select
            label="Runs"
            data={TRIGGERS}
            value={state.trigger}
            allowDeselect={false}
            disabled={family !== "webhook"}
            onChange={(value) => set({ trigger: (value as EditorState["trigger"]) ?? "pre_transfer" })}
          />
          <Select
            label="Instruments"
            data={[{ value: "", label: "All instruments" }, ...(instruments.data?.items ?? []).map((i) => ({ value: i.id, label: i.name }))]}
            value={state.instrument_id}
            allowDeselect={false}
            onChange={(value) => set({ instrument_id: value ?? "" })}
          />
          <NumberInput label="Priority" description="Lower runs first" value={state.priority} onChange={(value) => set({ priority: value })} />
          <Stack gap={6} mt="lg">
            <Switch label="Enabled" checked={state.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
            <Switch
              label="Block the file when this hook fails"
              checked={state.fail_closed}
              onChange={(e) => set({ fail_closed: e.currentTarget.checked })}
            />
          </Stack>
        </SimpleGrid>
        {(builtin ?? plugin) && (
          <Text size="sm" c="dimmed">
            {(builtin ?? plugin)?.description}
          </Text>
        )}
        <Textarea label="Description" autosize minRows={1} value={state.description} onChange={(e) => set({ description: e.currentTarget.value })} />
        {family === "webhook" && (
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput label="URL" required value={state.webhook_url} error={errors.webhook_url} onChange={(e) => set({ webhook_url: e.currentTarget.value })} />
            <TextInput
              label="Signing secret"
              type="password"
              autoComplete="new-password"
              description={item?.has_webhook_secret ? "Stored and never shown; leave empty to keep it" : "At least 16 characters; requests are signed with HMAC-SHA256"}
              value={state.webhook_secret}
              error={errors.webhook_secret}
              onChange={(e) => set({ webhook_secret: e.currentTarget.value })}
            />
          </SimpleGrid>
        )}
        <Paper withBorder p="sm">
          <Text fw={600} size="sm" mb="xs">
            Configuration
          </Text>
          {structured && schema ? (
            <Stack gap="sm">
              <SchemaFields schema={schema} value={state.config} onChange={(config) => set({ config })} />
            </Stack>
          ) : (
            <JsonInput
              label="Configuration (JSON)"
              description={schema ? "This hook's schema has no form here: edit its JSON" : "Sent to the webhook with each file"}
              autosize
              minRows={4}
              formatOnBlur
              value={state.configText}
              error={errors.configText}
              onChange={(configText) => set({ configText })}
            />
          )}
        </Paper>
        <FormActions submitLabel={item ? "Save changes" : "Create hook"} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

/** The effective chain of one instrument, in the order it runs; reorder by swapping priorities. */
function ChainOrder() {
  const client = useQueryClient();
  const instruments = useInstruments();
  const [instrument, setInstrument] = useState<string | null>(null);
  const hooks = useQuery({
    queryKey: [COLLECTION, "chain"],
    queryFn: ({ signal }) => api.get<Page<Hook>>(COLLECTION, { limit: 500 }, signal),
  });
  const swap = useMutation({
    // [earlier, later]: the first should run before the second afterwards. They swap
    // priorities; equal ones (which run in creation order) become distinct.
    mutationFn: async ([earlier, later]: [Hook, Hook]) => {
      const low = Math.min(earlier.priority, later.priority);
      const high = Math.max(earlier.priority, later.priority, low + 1);
      await api.patch(`${COLLECTION}/${earlier.id}`, { priority: low });
      await api.patch(`${COLLECTION}/${later.id}`, { priority: high });
    },
    onSettled: () => client.invalidateQueries({ queryKey: [COLLECTION] }),
  });
  const chain = (trigger: Hook["trigger"]) =>
    (hooks.data?.items ?? [])
      .filter((hook) => hook.trigger === trigger && hook.enabled && (hook.instrument_id === null || hook.instrument_id === instrument))
      .sort((a, b) => a.priority - b.priority);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="chain-heading">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="chain-heading">
          Order of the chain
        </Title>
        <Select
          aria-label="Chain of instrument"
          placeholder="Hooks for all instruments"
          clearable
          data={(instruments.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))}
          value={instrument}
          onChange={setInstrument}
        />
      </Group>
      <FormError error={swap.error} />
      {hooks.isPending ? (
        <LoadingState label="Loading hooks…" />
      ) : hooks.isError ? (
        <ErrorState error={hooks.error} onRetry={() => hooks.refetch()} />
      ) : (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          {TRIGGERS.map(({ value, label }) => {
            const list = chain(value as Hook["trigger"]);
            return (
              <Stack key={value} gap={4}>
                <Text fw={600} size="sm">
                  {label}
                </Text>
                {list.length === 0 && (
                  <Text size="sm" c="dimmed">
                    No enabled hooks.
                  </Text>
                )}
                {list.map((hook, index) => (
                  <Group key={hook.id} justify="space-between" wrap="nowrap">
                    <Text size="sm">
                      {index + 1}. {hook.name}{" "}
                      <Text span size="xs" c="dimmed">
                        (priority {hook.priority}
                        {hook.instrument_id ? `, ${nameOf(instruments.data?.items, hook.instrument_id)} only` : ""})
                      </Text>
                    </Text>
                    <Group gap={2} wrap="nowrap">
                      <ActionIcon variant="subtle" aria-label={`Run ${hook.name} earlier`} disabled={index === 0 || swap.isPending} onClick={() => swap.mutate([hook, list[index - 1]])}>
                        ↑
                      </ActionIcon>
                      <ActionIcon
                        variant="subtle"
                        aria-label={`Run ${hook.name} later`}
                        disabled={index === list.length - 1 || swap.isPending}
                        onClick={() => swap.mutate([list[index + 1], hook])}
                      >
                        ↓
                      </ActionIcon>
                    </Group>
                  </Group>
                ))}
              </Stack>
            );
          })}
        </SimpleGrid>
      )}
    </Paper>
  );
}

function DryRun() {
  const instruments = useInstruments();
  const [instrument, setInstrument] = useState<string | null>(null);
  const [path, setPath] = useState("");
  const [size, setSize] = useState<number | string>(0);
  const run = useMutation({
    mutationFn: () =>
      api.post<DryRunResult>(`${COLLECTION}/dry-run`, { instrument_id: instrument, source_path: path.trim(), size_bytes: Number(size) || 0 }),
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="dry-run-heading">
      <Title order={2} size="h4" id="dry-run-heading" mb="xs">
        Dry run of the pre-transfer chain
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        What the hooks would decide for a file at this path. Nothing is copied or stored, but webhooks are called.
      </Text>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          run.mutate();
        }}
      >
        <Group align="flex-end" gap="sm">
          <Select
            label="Instrument"
            required
            data={(instruments.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))}
            value={instrument}
            onChange={setInstrument}
          />
          <TextInput label="Path on the instrument" required placeholder="run_42/sample.raw" value={path} onChange={(e) => setPath(e.currentTarget.value)} miw={260} />
          <NumberInput label="Size (bytes)" min={0} value={size} onChange={setSize} w={140} />
          <Button type="submit" disabled={!instrument || !path.trim()} loading={run.isPending}>
            Try it
          </Button>
        </Group>
      </form>
      <Stack mt="sm" gap="xs">
        <FormError error={run.error} />
        {run.data && (
          <Alert
            role="status"
            color={run.data.action === "transfer" ? "green" : run.data.action === "skip" ? "gray" : "red"}
            title={run.data.action === "transfer" ? "Would be transferred" : run.data.action === "skip" ? `Would be skipped (${run.data.skip_rule})` : "Would be blocked"}
          >
            <Stack gap={4}>
              <Text size="sm">
                Destination: <Code>{run.data.destination_path}</Code>
              </Text>
              <Text size="sm">
                Metadata: <Code>{JSON.stringify(run.data.metadata)}</Code>
              </Text>
              {run.data.failures.map((failure) => (
                <Text size="sm" c="red.8" key={failure.hook}>
                  {failure.hook} failed{failure.blocking ? " (blocking)" : ""}: {failure.message}
                </Text>
              ))}
            </Stack>
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}

export function HooksPage() {
  const instruments = useInstruments();
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<Hook>(COLLECTION);
  const [editing, setEditing] = useState<Editing<Hook>>(null);
  return (
    <>
      <PageHeader
        title="Hooks"
        description="Filter, redirect, describe and share files around each transfer."
        actions={<Button onClick={() => setEditing("new")}>New hook</Button>}
      />
      <Stack gap="md">
        <div>
          <Group mb="sm">
            <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
          </Group>
          <FormError error={actions.error} />
          <PagedTable
            label="Hooks"
            paged={paged}
            rowKey={(hook) => hook.id}
            empty={{ title: "No hooks", hint: "Without hooks every complete file is copied as it is." }}
            columns={[
              {
                header: "Name",
                cell: (hook) => (
                  <Group gap={6}>
                    <Text size="sm">{hook.name}</Text>
                    {hook.deleted_at && <Badge color="gray">deleted</Badge>}
                    {!hook.enabled && <Badge color="yellow">disabled</Badge>}
                  </Group>
                ),
              },
              { header: "Hook", cell: (hook) => (hook.implementation === "http_webhook" ? "webhook" : hook.builtin_name) },
              { header: "Runs", cell: (hook) => (hook.trigger === "pre_transfer" ? "before" : "after") },
              { header: "Instruments", cell: (hook) => (hook.instrument_id ? nameOf(instruments.data?.items, hook.instrument_id) : "all") },
              { header: "Priority", cell: (hook) => hook.priority },
              {
                header: "Actions",
                cell: (hook) => <RowActions item={hook} name={hook.name} actions={actions} onEdit={() => setEditing(hook)} />,
              },
            ]}
          />
        </div>
        <ChainOrder />
        <DryRun />
      </Stack>
      <EditorModal editing={editing} noun="hook" size="xl" onClose={() => setEditing(null)}>
        {(item) => <HookEditor item={item} onDone={() => setEditing(null)} />}
      </EditorModal>
    </>
  );
}
