import { Code, Select, SimpleGrid, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Page } from "../../api/client";
import type { User } from "../../api/types";
import { FilterPanel } from "../../components/FilterPanel";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { usePaged } from "../../components/usePaged";
import { formatDateTime } from "../../format";

interface AuditEntry {
  id: string;
  entity_type: string;
  entity_id: string | null;
  action: string;
  actor_id: string | null;
  actor_email: string | null;
  changes: Record<string, unknown> | null;
  created_at: string;
}

interface Filters {
  entity_type: string;
  action: string;
  actor_id: string;
  since: string;
  until: string;
}

const NONE: Filters = { entity_type: "", action: "", actor_id: "", since: "", until: "" };

// What the server records (services/audit.py); the filters take any value.
const ENTITY_TYPES = [
  "instruments",
  "storage_locations",
  "service_accounts",
  "harvest_schedules",
  "hook_configs",
  "users",
  "groups",
  "projects",
  "group_members",
  "project_members",
  "file_access_grants",
  "instrument_access",
  "instrument_requests",
  "api_tokens",
  "harvest_entries",
  "auth",
  "encryption_keys",
];
const ACTIONS = [
  "create",
  "update",
  "delete",
  "restore",
  "role_change",
  "add_member",
  "remove_member",
  "revoke",
  "reveal_secret",
  "login_failed",
  "password_reset",
  "verify",
  "rotate",
  "retry",
  "source_cleanup",
];

function Changes({ changes }: { changes: Record<string, unknown> | null }) {
  if (!changes) return <Text size="xs">—</Text>;
  const text = JSON.stringify(changes);
  return (
    <Code block style={{ whiteSpace: "pre-wrap", wordBreak: "break-all", maxHeight: 120, overflow: "auto" }}>
      {text.length > 600 ? `${text.slice(0, 600)}…` : text}
    </Code>
  );
}

export function AuditLogPage() {
  const [applied, setApplied] = useState<Filters>(NONE);
  const users = useQuery({
    queryKey: ["/api/admin/users", "lookup"],
    queryFn: ({ signal }) => api.get<Page<User>>("/api/admin/users", { limit: 500 }, signal),
    staleTime: 30_000,
  });
  const form = useForm<Filters>({
    initialValues: NONE,
    validate: {
      until: (value, values) => (value && values.since && value < values.since ? "Must be on or after the start" : null),
    },
  });
  const paged = usePaged<AuditEntry>("/api/admin/audit-logs", { ...applied });
  const select = (name: keyof Filters, label: string, data: { value: string; label: string }[] | string[]) => (
    <Select
      label={label}
      placeholder="Any"
      data={data}
      clearable
      searchable
      value={form.values[name] || null}
      onChange={(value) => form.setFieldValue(name, value ?? "")}
    />
  );
  return (
    <>
      <PageHeader title="Audit log" description="Every change, who made it and when; newest first." />
      <FilterPanel label="Filter the audit log" form={form} submitLabel="Filter" onApply={setApplied}>
        <SimpleGrid cols={{ base: 1, sm: 3, lg: 5 }} spacing="sm">
          {select("entity_type", "What", ENTITY_TYPES)}
          {select("action", "Action", ACTIONS)}
          {select(
            "actor_id",
            "Who",
            (users.data?.items ?? []).map((user) => ({ value: user.id, label: user.email })),
          )}
          <TextInput label="From" type="date" {...form.getInputProps("since")} />
          <TextInput label="Until (inclusive)" type="date" {...form.getInputProps("until")} />
        </SimpleGrid>
      </FilterPanel>
      <PagedTable
        label="Audit log"
        paged={paged}
        rowKey={(entry) => entry.id}
        empty={{ title: "No entries", hint: "Nothing matches these filters." }}
        columns={[
          { header: "When", cell: (entry) => formatDateTime(entry.created_at), width: 170 },
          { header: "Who", cell: (entry) => entry.actor_email ?? "system" },
          { header: "Action", cell: (entry) => entry.action },
          {
            header: "What",
            cell: (entry) => (
              <Text size="sm">
                {entry.entity_type}
                {entry.entity_id && (
                  <Text span size="xs" c="dimmed" ff="monospace">
                    {" "}
                    {entry.entity_id.slice(0, 8)}
                  </Text>
                )}
              </Text>
            ),
          },
          { header: "Changes", cell: (entry) => <Changes changes={entry.changes} /> },
        ]}
      />
    </>
  );
}
