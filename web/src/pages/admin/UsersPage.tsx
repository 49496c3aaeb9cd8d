import { Badge, Button, Group, Modal, PasswordInput, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import type { User } from "../../api/types";
import { useCurrentUser } from "../../auth/session";
import { MIN_PASSWORD_LENGTH } from "../../components/NewPasswordFields";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { usePaged } from "../../components/usePaged";
import { DeleteRestore, ShowDeleted, useSoftDelete } from "./common";

const COLLECTION = "/api/admin/users";

interface UserForm {
  email: string;
  password: string;
  role: "admin" | "user";
  is_active: boolean;
}

function UserEditor({ item, onDone }: { item: User | null; onDone: () => void }) {
  const client = useQueryClient();
  const form = useForm<UserForm>({
    initialValues: { email: item?.email ?? "", password: "", role: item?.role ?? "user", is_active: item?.is_active ?? true },
    validate: {
      email: (value) => (/^\S+@\S+$/.test(value.trim()) ? null : "Enter a valid e-mail address"),
      password: (value) =>
        (item && !value) || value.length >= MIN_PASSWORD_LENGTH ? null : `At least ${MIN_PASSWORD_LENGTH} characters`,
    },
  });
  const save = useMutation({
    mutationFn: (values: UserForm) => {
      if (!item) {
        return api.post("/auth/register", { email: values.email.trim(), password: values.password, role: values.role });
      }
      const body: Record<string, unknown> = { email: values.email.trim(), role: values.role, is_active: values.is_active };
      if (values.password) body.password = values.password;
      return api.patch(`/users/${item.id}`, body);
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
        <TextInput label="E-mail" type="email" required {...form.getInputProps("email")} />
        <PasswordInput
          label={item ? "New password" : "Password"}
          description={item ? "Leave empty to keep it. Changing it signs the user out everywhere." : "Tell the user to change it after the first login."}
          required={!item}
          autoComplete="new-password"
          {...form.getInputProps("password")}
        />
        <Select
          label="Role"
          data={[
            { value: "user", label: "User: sees the data given to them" },
            { value: "admin", label: "Administrator: manages everything" },
          ]}
          allowDeselect={false}
          {...form.getInputProps("role")}
        />
        {item && <Switch label="Active (may log in)" {...form.getInputProps("is_active", { type: "checkbox" })} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            {item ? "Save changes" : "Create user"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function UsersPage() {
  const me = useCurrentUser();
  const [showDeleted, setShowDeleted] = useState(false);
  const [editing, setEditing] = useState<User | null | "new">(null);
  const paged = usePaged<User>(COLLECTION, { include_deleted: showDeleted || undefined });
  const actions = useSoftDelete(COLLECTION);
  return (
    <>
      <PageHeader
        title="Users"
        description="Accounts, their roles, and whether they may log in."
        actions={<Button onClick={() => setEditing("new")}>New user</Button>}
      />
      <Group mb="sm">
        <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
      </Group>
      <FormError error={actions.error} />
      <PagedTable
        label="Users"
        paged={paged}
        rowKey={(user) => user.id}
        empty={{ title: "No users" }}
        columns={[
          {
            header: "E-mail",
            cell: (user) => (
              <Group gap={6}>
                <Text size="sm">{user.email}</Text>
                {user.id === me.id && <Badge variant="light">you</Badge>}
                {user.deleted_at && <Badge color="gray">deleted</Badge>}
                {!user.is_active && <Badge color="yellow">inactive</Badge>}
              </Group>
            ),
          },
          { header: "Role", cell: (user) => (user.role === "admin" ? <Badge color="grape">admin</Badge> : "user") },
          { header: "Verified", cell: (user) => (user.is_verified ? "yes" : "no") },
          {
            header: "Actions",
            cell: (user) => (
              <Group gap={4} wrap="nowrap">
                {!user.deleted_at && (
                  <Button size="compact-sm" variant="default" onClick={() => setEditing(user)} aria-label={`Edit ${user.email}`}>
                    Edit
                  </Button>
                )}
                {user.id !== me.id && <DeleteRestore item={user} name={user.email} actions={actions} />}
              </Group>
            ),
          },
        ]}
      />
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === "new" ? "New user" : "Edit user"}>
        {editing !== null && <UserEditor item={editing === "new" ? null : editing} onDone={() => setEditing(null)} />}
      </Modal>
    </>
  );
}
