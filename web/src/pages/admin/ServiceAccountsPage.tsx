import { Badge, Button, Group, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useState } from "react";
import type { ServiceAccount } from "../../api/types";
import { createOrUpdate, useSave } from "../../api/useSave";
import { FormActions } from "../../components/FormActions";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { formatDateTime } from "../../format";
import { RowActions, ShowDeleted, useAdminList } from "./common";
import { EditorModal, type Editing } from "./EditorModal";

const COLLECTION = "/api/service-accounts";

function AccountForm({ item, onDone }: { item: ServiceAccount | null; onDone: () => void }) {
  const form = useForm({
    initialValues: { name: item?.name ?? "", domain: item?.domain ?? "", username: item?.username ?? "", password: "" },
    validate: {
      name: (value) => (value.trim() ? null : "Name the account"),
      username: (value) => (value.trim() ? null : "Enter the user name"),
      password: (value) => (item || value ? null : "Enter the password"),
    },
  });
  const save = useSave({
    collection: COLLECTION,
    send: (values: typeof form.values) => {
      const body: Record<string, string | null> = {
        name: values.name.trim(),
        domain: values.domain.trim() || null,
        username: values.username.trim(),
      };
      // Write-only: sent only when typed, never read back.
      if (values.password) body.password = values.password;
      return createOrUpdate(COLLECTION, item, body);
    },
    onSaved: onDone,
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
        <FormActions submitLabel={item ? "Save changes" : "Create service account"} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

export function ServiceAccountsPage() {
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<ServiceAccount>(COLLECTION);
  const [editing, setEditing] = useState<Editing<ServiceAccount>>(null);
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
            cell: (item) => <RowActions item={item} name={item.name} actions={actions} onEdit={() => setEditing(item)} />,
          },
        ]}
      />
      <EditorModal editing={editing} noun="service account" onClose={() => setEditing(null)}>
        {(item) => <AccountForm item={item} onDone={() => setEditing(null)} />}
      </EditorModal>
    </>
  );
}
