import { Anchor, Badge, Button, Group, Paper, Select, Stack, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, ApiError, type Page } from "../../api/client";
import type { User } from "../../api/types";
import { createOrUpdate, useSave } from "../../api/useSave";
import { FormActions } from "../../components/FormActions";
import { PageHeader } from "../../components/PageHeader";
import { PagedTable } from "../../components/PagedTable";
import { ErrorState, FormError, LoadingState } from "../../components/States";
import { usePaged } from "../../components/usePaged";
import { NotFoundPage } from "../NotFoundPage";
import { RowActions, ShowDeleted, useAdminList } from "./common";
import { EditorModal, type Editing } from "./EditorModal";

// Groups and projects: named sets of people that access is granted to. A group holds
// users; a project holds users and groups.
export type TeamKind = "groups" | "projects";

interface Team {
  id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

interface Member {
  id?: string;
  user_id?: string;
  member_type?: "user" | "group";
  member_id?: string;
  email?: string | null;
  name?: string | null;
}

const NOUN: Record<TeamKind, { one: string; many: string; path: string }> = {
  groups: { one: "group", many: "Groups", path: "/admin/groups" },
  projects: { one: "project", many: "Projects", path: "/admin/projects" },
};

function TeamEditor({ kind, item, onDone }: { kind: TeamKind; item: Team | null; onDone: () => void }) {
  const collection = `/api/${kind}`;
  const form = useForm({
    initialValues: { name: item?.name ?? "", description: item?.description ?? "" },
    validate: { name: (value) => (value.trim() ? null : `Name the ${NOUN[kind].one}`) },
  });
  const save = useSave({
    collection,
    send: (values: { name: string; description: string }) =>
      createOrUpdate(collection, item, { name: values.name.trim(), description: values.description.trim() || null }),
    onSaved: onDone,
  });
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
      <Stack gap="sm">
        <FormError error={save.error} />
        <TextInput label="Name" required {...form.getInputProps("name")} />
        <Textarea label="Description" autosize minRows={2} {...form.getInputProps("description")} />
        <FormActions submitLabel={item ? "Save changes" : `Create ${NOUN[kind].one}`} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

export function TeamsPage({ kind }: { kind: TeamKind }) {
  const collection = `/api/${kind}`;
  const noun = NOUN[kind];
  const { showDeleted, setShowDeleted, paged, actions } = useAdminList<Team>(collection);
  const [editing, setEditing] = useState<Editing<Team>>(null);
  return (
    <>
      <PageHeader
        title={noun.many}
        description={kind === "groups" ? "Sets of users that files and instruments can be shared with." : "Research projects: users and groups that share data."}
        actions={<Button onClick={() => setEditing("new")}>New {noun.one}</Button>}
      />
      <Group mb="sm">
        <ShowDeleted value={showDeleted} onChange={setShowDeleted} />
      </Group>
      <FormError error={actions.error} />
      <PagedTable
        label={noun.many}
        paged={paged}
        rowKey={(team) => team.id}
        empty={{ title: `No ${kind}`, hint: `Create a ${noun.one} to share data with several people at once.` }}
        columns={[
          {
            header: "Name",
            cell: (team) => (
              <Group gap={6}>
                <Anchor component={Link} to={`${noun.path}/${team.id}`} size="sm">
                  {team.name}
                </Anchor>
                {team.deleted_at && <Badge color="gray">deleted</Badge>}
              </Group>
            ),
          },
          { header: "Description", cell: (team) => team.description ?? "—" },
          {
            header: "Actions",
            cell: (team) => <RowActions item={team} name={team.name} actions={actions} onEdit={() => setEditing(team)} />,
          },
        ]}
      />
      <EditorModal editing={editing} noun={noun.one} onClose={() => setEditing(null)}>
        {(item) => <TeamEditor kind={kind} item={item} onDone={() => setEditing(null)} />}
      </EditorModal>
    </>
  );
}

function useChoices<T>(path: string) {
  return useQuery({
    queryKey: [path, "lookup"],
    queryFn: ({ signal }) => api.get<Page<T>>(path, { limit: 500 }, signal),
    staleTime: 30_000,
  });
}

function AddMember({ kind, teamId }: { kind: TeamKind; teamId: string }) {
  const path = `/api/${kind}/${teamId}/members`;
  const [type, setType] = useState<"user" | "group">("user");
  const [chosen, setChosen] = useState<string | null>(null);
  const users = useChoices<User>("/api/admin/users");
  const groups = useChoices<Team>("/api/groups");
  const options =
    type === "user"
      ? (users.data?.items ?? []).filter((user) => !user.deleted_at).map((user) => ({ value: user.id, label: user.email }))
      : (groups.data?.items ?? []).filter((group) => !group.deleted_at).map((group) => ({ value: group.id, label: group.name }));
  const add = useSave({
    collection: path,
    send: () => api.post(path, kind === "groups" ? { user_id: chosen } : { member_type: type, member_id: chosen }),
    onSaved: () => setChosen(null),
  });
  return (
    <Stack gap="xs">
      <Group align="flex-end" gap="sm">
        {kind === "projects" && (
          <Select
            label="Add a"
            w={120}
            allowDeselect={false}
            data={[
              { value: "user", label: "User" },
              { value: "group", label: "Group" },
            ]}
            value={type}
            onChange={(value) => {
              setType((value as "user" | "group") ?? "user");
              setChosen(null);
            }}
          />
        )}
        <Select
          label={type === "user" ? "User" : "Group"}
          placeholder="Choose"
          searchable
          w={300}
          data={options}
          value={chosen}
          onChange={setChosen}
        />
        <Button onClick={() => add.mutate()} disabled={!chosen} loading={add.isPending}>
          Add member
        </Button>
      </Group>
      <FormError error={add.error} />
    </Stack>
  );
}

export function TeamPage({ kind }: { kind: TeamKind }) {
  const { teamId = "" } = useParams();
  const client = useQueryClient();
  const noun = NOUN[kind];
  const team = useQuery({
    queryKey: [`/api/${kind}`, teamId],
    queryFn: ({ signal }) => api.get<Team>(`/api/${kind}/${teamId}`, undefined, signal),
  });
  const membersPath = `/api/${kind}/${teamId}/members`;
  const paged = usePaged<Member>(membersPath);
  const remove = useMutation({
    mutationFn: (id: string) => api.del(`${membersPath}/${id}`),
    onSuccess: () => client.invalidateQueries({ queryKey: [membersPath] }),
  });
  if (team.isPending) return <LoadingState label={`Loading the ${noun.one}…`} />;
  if (team.isError) {
    const status = team.error instanceof ApiError ? team.error.status : 0;
    if (status === 404 || status === 422) return <NotFoundPage />;
    return <ErrorState error={team.error} onRetry={() => team.refetch()} />;
  }
  return (
    <>
      <Anchor component={Link} to={noun.path} size="sm">
        ← {noun.many}
      </Anchor>
      <PageHeader title={team.data.name} description={team.data.description ?? undefined} />
      <Paper withBorder p="md" component="section" aria-labelledby="members-heading">
        <Title order={2} size="h4" id="members-heading" mb="sm">
          Members
        </Title>
        <Stack gap="md">
          {!team.data.deleted_at && <AddMember kind={kind} teamId={teamId} />}
          <FormError error={remove.error} />
          <PagedTable
            label="Members"
            paged={paged}
            rowKey={(member) => member.id ?? member.user_id ?? ""}
            empty={{ title: "No members yet" }}
            columns={[
              { header: "Member", cell: (member) => member.email ?? member.name ?? member.member_id ?? member.user_id },
              { header: "Kind", cell: (member) => member.member_type ?? "user" },
              {
                header: "",
                cell: (member) => {
                  const id = kind === "groups" ? member.user_id : member.id;
                  return id ? (
                    <Button size="compact-sm" color="red" variant="light" onClick={() => remove.mutate(id)} aria-label={`Remove ${member.email ?? member.name ?? "member"}`}>
                      Remove
                    </Button>
                  ) : null;
                },
              },
            ]}
          />
          {kind === "groups" && (
            <Text size="xs" c="dimmed">
              Members see whatever is granted to the group, and to the projects the group is in.
            </Text>
          )}
        </Stack>
      </Paper>
    </>
  );
}
