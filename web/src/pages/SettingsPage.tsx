import { Alert, Button, Code, CopyButton, Group, Modal, NumberInput, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, request } from "../api/client";
import type { ApiToken, ApiTokenCreated } from "../api/types";
import { ME_KEY, useCurrentUser } from "../auth/session";
import { NewPasswordFields, validateNewPassword, type NewPasswordValues } from "../components/NewPasswordFields";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { FormError } from "../components/States";
import { usePaged } from "../components/usePaged";
import { formatDateTime } from "../format";

function ChangePassword() {
  const user = useCurrentUser();
  const client = useQueryClient();
  const form = useForm<NewPasswordValues>({
    initialValues: { password: "", confirm: "" },
    validate: validateNewPassword<NewPasswordValues>(),
  });
  const change = useMutation({
    mutationFn: async (password: string) => {
      await api.patch("/users/me", { password });
      // A new password ends every session, this one too: log in again with it.
      await request<void>("/auth/cookie/login", { method: "POST", form: { username: user.email, password } });
    },
    onSuccess: async () => {
      form.reset();
      await client.invalidateQueries({ queryKey: ME_KEY });
    },
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="password-heading">
      <Title order={2} size="h4" id="password-heading" mb="sm">
        Change password
      </Title>
      <form onSubmit={form.onSubmit((values) => change.mutate(values.password))} noValidate>
        <Stack gap="sm" maw={420}>
          <FormError error={change.error} />
          {change.isSuccess && (
            <Alert color="green" role="status">
              Password changed. Your other sessions were signed out.
            </Alert>
          )}
          <NewPasswordFields form={form} />
          <Group>
            <Button type="submit" loading={change.isPending}>
              Change password
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

function NewTokenDialog({ token, onClose }: { token: ApiTokenCreated | null; onClose: () => void }) {
  return (
    <Modal opened={token !== null} onClose={onClose} title="Your new API token" size="lg">
      {token && (
        <Stack gap="sm">
          <Alert color="yellow" role="status">
            Copy it now: it is shown only once. Send it as <Code>Authorization: Bearer …</Code>.
          </Alert>
          <Code block aria-label="New API token" style={{ wordBreak: "break-all" }}>
            {token.token}
          </Code>
          <Group justify="flex-end">
            <CopyButton value={token.token}>
              {({ copied, copy }) => (
                <Button onClick={copy} color={copied ? "teal" : "blue"}>
                  {copied ? "Copied" : "Copy token"}
                </Button>
              )}
            </CopyButton>
            <Button variant="default" onClick={onClose}>
              Done
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

function ApiTokens() {
  const client = useQueryClient();
  const paged = usePaged<ApiToken>("/api/tokens");
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const form = useForm<{ name: string; days: number | string }>({
    initialValues: { name: "", days: 90 },
    validate: {
      name: (value) => (value.trim() ? null : "Name the token after where you will use it"),
      days: (value) =>
        value === "" || (Number(value) >= 1 && Number(value) <= 3650) ? null : "Between 1 and 3650 days, or empty",
    },
  });
  const refresh = () => client.invalidateQueries({ queryKey: ["/api/tokens"] });
  const create = useMutation({
    mutationFn: (values: { name: string; days: number | string }) =>
      api.post<ApiTokenCreated>("/api/tokens", {
        name: values.name.trim(),
        expires_in_days: values.days === "" ? null : Number(values.days),
      }),
    onSuccess: (token) => {
      setCreated(token);
      form.reset();
      refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => api.del(`/api/tokens/${id}`), onSuccess: refresh });

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="tokens-heading">
      <Title order={2} size="h4" id="tokens-heading">
        Personal API tokens
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        For scripts and notebooks: a token acts as you, with your access.
      </Text>
      <form onSubmit={form.onSubmit((values) => create.mutate(values))} noValidate>
        <Group align="flex-end" gap="sm" mb="md">
          <TextInput label="Token name" placeholder="analysis notebook" required {...form.getInputProps("name")} />
          <NumberInput
            label="Expires after (days)"
            description="Empty: never"
            min={1}
            max={3650}
            w={170}
            {...form.getInputProps("days")}
          />
          <Button type="submit" loading={create.isPending}>
            Create token
          </Button>
        </Group>
        <FormError error={create.error ?? revoke.error} />
      </form>
      <PagedTable
        label="API tokens"
        paged={paged}
        rowKey={(token) => token.id}
        empty={{ title: "No API tokens yet", hint: "Create one above to use the API from a script." }}
        columns={[
          { header: "Name", cell: (token) => token.name },
          { header: "Starts with", cell: (token) => <Code>{token.prefix}…</Code> },
          { header: "Created", cell: (token) => formatDateTime(token.created_at) },
          { header: "Expires", cell: (token) => (token.expires_at ? formatDateTime(token.expires_at) : "never") },
          { header: "Last used", cell: (token) => formatDateTime(token.last_used_at) },
          {
            header: "Status",
            cell: (token) =>
              token.revoked_at ? (
                <Text size="sm" c="dimmed">
                  revoked {formatDateTime(token.revoked_at)}
                </Text>
              ) : (
                <Button
                  size="compact-sm"
                  color="red"
                  variant="light"
                  aria-label={`Revoke token ${token.name}`}
                  onClick={() => revoke.mutate(token.id)}
                >
                  Revoke
                </Button>
              ),
          },
        ]}
      />
      <NewTokenDialog token={created} onClose={() => setCreated(null)} />
    </Paper>
  );
}

export function SettingsPage() {
  const user = useCurrentUser();
  return (
    <>
      <PageHeader title="Settings" description={`Signed in as ${user.email} (${user.role})`} />
      <Stack gap="lg">
        <ChangePassword />
        <ApiTokens />
      </Stack>
    </>
  );
}
