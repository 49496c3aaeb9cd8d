import { Badge, Button, Group, PasswordInput, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useState } from "react";
import { api } from "../../api/client";
import type { User } from "../../api/types";
import { useSave } from "../../api/useSave";
import { useCurrentUser } from "../../auth/session";
import { FormActions } from "../../components/FormActions";
import { MIN_PASSWORD_LENGTH } from "../../components/NewPasswordFields";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { FormError } from "../../components/States";
import { RowActions, ShowDeleted, useAdminList } from "./common";
import { EditorModal, type Editing } from "./EditorModal";

const COLLECTION = "/api/admin/users";

interface UserForm {
  email: string;
  password: string;
  role: "admin" | "user";
  is_active: boolean;
}

function UserEditor({ item, onDone }: { item: User | null; onDone: () => void }) {
  const form = useForm<UserForm>({
    initialValues: { email: item?.email ?? "", password: "", role: item?.role ?? "user", is_active: item?.is_active ?? true },
    validate: {
      email: (value) => (/^\S+@\S+$/.test(value.trim()) ? null : "Enter a valid e-mail address"),
      password: (value) =>
        (item && !value) || value.length >= MIN_PASSWORD_LENGTH ? null : `At least ${MIN_PASSWORD_LENGTH} characters`,
    },
  });
  const save = useSave({
    collection: COLLECTION,
    send: (values: UserForm) => {
      if (!item) {
        return api.post("/auth/register", { email: values.email.trim(), password: values.password, role: values.role });
      }
      const body: Record<string, unknown> = { email: values.email.trim(), role: values.role, is_active: values.is_active };
      if (values.password) body.password = values.password;
      return api.patch(`/users/${item.id}`, body);
    },
    onSaved: onDone,
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
        <FormActions submitLabel={item ? "Save changes" : "Create user"} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

export function UsersPage() {
  const me = useCurrentUser();
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<User>(COLLECTION);
  const [editing, setEditing] = useState<Editing<User>>(null);
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
              <RowActions item={user} name={user.email} actions={actions} onEdit={() => setEditing(user)} deletable={user.id !== me.id} />
            ),
          },
        ]}
      />
      <EditorModal editing={editing} noun="user" onClose={() => setEditing(null)}>
        {(item) => <UserEditor item={item} onDone={() => setEditing(null)} />}
      </EditorModal>
    </>
  );
}
