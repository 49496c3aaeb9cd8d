import { Button, Group, Select, Stack, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Page } from "../api/client";
import type { FileGrant, User } from "../api/types";
import { PagedTable } from "../components/PagedTable";
import { FormError } from "../components/States";
import { usePaged } from "../components/usePaged";
import { formatDateTime } from "../format";

type GranteeType = FileGrant["grantee_type"];

const SOURCES: Record<GranteeType, string> = {
  user: "/api/admin/users",
  group: "/api/groups",
  project: "/api/projects",
};

interface Named {
  id: string;
  name?: string;
  email?: string;
}

function useGrantees(type: GranteeType) {
  return useQuery({
    queryKey: [SOURCES[type], "lookup"],
    queryFn: ({ signal }) => api.get<Page<Named>>(SOURCES[type], { limit: 500 }, signal),
    staleTime: 30_000,
  });
}

function label(item: Named): string {
  return item.email ?? item.name ?? item.id;
}

function GranteeName({ grant }: { grant: FileGrant }) {
  const path = grant.grantee_type === "user" ? `/users/${grant.grantee_id}` : `${SOURCES[grant.grantee_type]}/${grant.grantee_id}`;
  const found = useQuery({
    queryKey: [path],
    queryFn: ({ signal }) => api.get<Named & Partial<User>>(path, undefined, signal),
    staleTime: 60_000,
  });
  return <>{found.data ? label(found.data) : grant.grantee_id}</>;
}

/**
 * Grants on a file or an instrument (``path``: its ``/access`` collection). Admins only:
 * the API hides grants from everyone else.
 */
export function AccessGrants({ path, intro }: { path: string; intro: string }) {
  const client = useQueryClient();
  const paged = usePaged<FileGrant>(path);
  const [type, setType] = useState<GranteeType>("user");
  const [grantee, setGrantee] = useState<string | null>(null);
  const options = useGrantees(type);
  const refresh = () => client.invalidateQueries({ queryKey: [path] });
  const add = useMutation({
    mutationFn: () => api.post<FileGrant>(path, { grantee_type: type, grantee_id: grantee }),
    onSuccess: () => {
      setGrantee(null);
      refresh();
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => api.del(`${path}/${id}`), onSuccess: refresh });
  return (
    <Stack gap="sm">
      <Text size="sm" c="dimmed">
        {intro}
      </Text>
      <Group align="flex-end" gap="sm">
        <Select
          label="Grant to a"
          data={[
            { value: "user", label: "User" },
            { value: "group", label: "Group" },
            { value: "project", label: "Project" },
          ]}
          value={type}
          onChange={(value) => {
            setType((value as GranteeType) ?? "user");
            setGrantee(null);
          }}
          allowDeselect={false}
          w={130}
        />
        <Select
          label={type === "user" ? "User" : type === "group" ? "Group" : "Project"}
          placeholder={options.isPending ? "Loading…" : "Choose"}
          data={(options.data?.items ?? []).map((item) => ({ value: item.id, label: label(item) }))}
          value={grantee}
          onChange={setGrantee}
          searchable
          w={280}
        />
        <Button onClick={() => add.mutate()} disabled={!grantee} loading={add.isPending}>
          Grant access
        </Button>
      </Group>
      <FormError error={add.error ?? remove.error ?? options.error} />
      <PagedTable
        label="Access grants"
        paged={paged}
        rowKey={(grant) => grant.id}
        empty={{ title: "No grants" }}
        columns={[
          { header: "Type", cell: (grant) => grant.grantee_type },
          { header: "Who", cell: (grant) => <GranteeName grant={grant} /> },
          { header: "Since", cell: (grant) => formatDateTime(grant.created_at) },
          {
            header: "",
            cell: (grant) => (
              <Button size="compact-sm" variant="light" color="red" onClick={() => remove.mutate(grant.id)}>
                Revoke
              </Button>
            ),
          },
        ]}
      />
    </Stack>
  );
}
