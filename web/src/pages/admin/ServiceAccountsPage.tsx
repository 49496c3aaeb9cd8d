import { Badge, Button, Group, Modal, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import type { ServiceAccount } from "../../api/types";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { usePaged } from "../../components/usePaged";
import { formatDateTime } from "../../format";
import { DeleteRestore, ShowDeleted, useSoftDelete } from "./common";

const COLLECTION = "/api/service-accounts";

function AccountForm({ item, onDone }: { item: ServiceAccount | null; onDone: () => void }) {
  const client = useQueryClient();
  const form = useForm({
    initialValues: { name: item?.name ?? "", domain: item?.domain ?? "", username: item?.username ?? "", password: "" },
    validate: {
      name: (value) => (value.trim() ? null : "Name the account"),
      username: (value) => (value.trim() ? null : "Enter the user name"),
      password: (value) => (item || value ? null : "Enter the password"),
    },
  });
  const save = useMutation({
    mutationFn: (values: typeof form.values) => {
      const body: Record<string, string | null> = {
        name: values.name.trim(),
        domain: values.domain.trim() || null,
        username: values.username.trim(),
      };
      // Write-only: sent only when typed, never read back.
      if (values.password) body.password = values.password;
      return item ? api.patch(`${COLLECTION}/${item.id}`, body) : api.post(COLLECTION, body);
    },
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: [COLLECTION] });
      onDone();
    },
  });
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
      <Stack gap="sm">
        <FormError error={save.error} />
        <TextInput label="Name" required {...form.getInputProps("name")} />
        <TextInput label="Domain" placeholder="LAB" {...form.getInputProps("domain")} />
        <TextInput label="User name" required {...form.getInputProps("username")} />
        <PasswordInput
          label="Password"
          required={!item}
          autoComplete="new-password"
          description={item ? "Stored and never shown. Leave empty to keep it." : "Stored encrypted; it is never shown again."}
          {...form.getInputProps("password")}
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            {item ? "Save changes" : "Create service account"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function ServiceAccountsPage() {
  const [showDeleted, setShowDeleted] = useState(false);
  const [editing, setEditing] = useState<ServiceAccount | null | "new">(null);
  const paged = usePaged<ServiceAccount>(COLLECTION, { include_deleted: showDeleted || undefined });
  const actions = useSoftDelete(COLLECTION);
  return (
    <>
      <PageHeader
        title="Service accounts"
        description="The identities StreamWeave uses to read instrument shares. Passwords are write-only."
        actions={<Button onClick={() => setEditing("new")}>New service account</Button>}
      />
      <Group mb="sm">
        <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
      </Group>
      <FormError error={actions.error} />
      <PagedTable
        label="Service accounts"
        paged={paged}
        rowKey={(item) => item.id}
        empty={{ title: "No service accounts", hint: "SMB instruments need one to read their share." }}
        columns={[
          {
            header: "Name",
            cell: (item) => (
              <Group gap={6}>
                <Text size="sm">{item.name}</Text>
                {item.deleted_at && <Badge color="gray">deleted</Badge>}
              </Group>
            ),
          },
          { header: "Account", cell: (item) => (item.domain ? `${item.domain}\\${item.username}` : item.username) },
          { header: "Updated", cell: (item) => formatDateTime(item.updated_at) },
          {
            header: "Actions",
            cell: (item) => (
              <Group gap={4} wrap="nowrap">
                {!item.deleted_at && (
                  <Button size="compact-sm" variant="default" onClick={() => setEditing(item)} aria-label={`Edit ${item.name}`}>
                    Edit
                  </Button>
                )}
                <DeleteRestore item={item} name={item.name} actions={actions} />
              </Group>
            ),
          },
        ]}
      />
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === "new" ? "New service account" : "Edit service account"}>
        {editing !== null && <AccountForm item={editing === "new" ? null : editing} onDone={() => setEditing(null)} />}
      </Modal>
    </>
  );
}
