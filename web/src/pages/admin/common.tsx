import { Alert, Button, Group, Switch } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { api, errorMessage } from "../../api/client";
import type { ConnectionTest } from "../../api/types";
import { usePaged } from "../../components/usePaged";

/** Delete (soft) and restore for one admin collection; lists refresh afterwards. */
export function useSoftDelete(collection: string) {
  const client = useQueryClient();
  const refresh = () => client.invalidateQueries({ queryKey: [collection] });
  const remove = useMutation({ mutationFn: (id: string) => api.del(`${collection}/${id}`), onSuccess: refresh });
  const restore = useMutation({
    mutationFn: (id: string) => api.post(`${collection}/${id}/restore`),
    onSuccess: refresh,
  });
  return { remove, restore, error: remove.error ?? restore.error };
}

/** One admin collection as a list page shows it: deleted items only on request, with delete and restore. */
export function useAdminList<T>(collection: string) {
  const [showDeleted, setShowDeleted] = useState(false);
  const paged = usePaged<T>(collection, { include_deleted: showDeleted || undefined });
  const actions = useSoftDelete(collection);
  return { showDeleted, setShowDeleted, paged, actions };
}

export function DeleteRestore({
  item,
  name,
  actions,
}: {
  item: { id: string; deleted_at: string | null };
  name: string;
  actions: ReturnType<typeof useSoftDelete>;
}) {
  return item.deleted_at ? (
    <Button size="compact-sm" variant="light" onClick={() => actions.restore.mutate(item.id)} aria-label={`Restore ${name}`}>
      Restore
    </Button>
  ) : (
    <Button
      size="compact-sm"
      variant="light"
      color="red"
      onClick={() => {
        if (window.confirm(`Delete ${name}? It can be restored later.`)) actions.remove.mutate(item.id);
      }}
      aria-label={`Delete ${name}`}
    >
      Delete
    </Button>
  );
}

/** The actions cell of an admin list: Edit and any other buttons while the item lives, then Delete or Restore. */
export function RowActions({
  item,
  name,
  actions,
  onEdit,
  editLabel = `Edit ${name}`,
  deletable = true,
  children,
}: {
  item: { id: string; deleted_at: string | null };
  name: string;
  actions: ReturnType<typeof useSoftDelete>;
  onEdit: () => void;
  /** For rows whose name reads badly after "Edit". */
  editLabel?: string;
  deletable?: boolean;
  children?: ReactNode;
}) {
  return (
    <Group gap={4} wrap="nowrap">
      {!item.deleted_at && (
        <>
          <Button size="compact-sm" variant="default" onClick={onEdit} aria-label={editLabel}>
            Edit
          </Button>
          {children}
        </>
      )}
      {deletable && <DeleteRestore item={item} name={name} actions={actions} />}
    </Group>
  );
}

export function ShowDeleted({ value, onChange }: { value: boolean; onChange: (value: boolean) => void }) {
  return <Switch label="Show deleted" checked={value} onChange={(event) => onChange(event.currentTarget.checked)} />;
}

/** "Test connection" against a GET .../test route, with its answer in words. */
export function useConnectionTest(path: (id: string) => string) {
  return useMutation({ mutationFn: (id: string) => api.get<ConnectionTest>(path(id)) });
}

export function ConnectionTestResult({ test }: { test: ReturnType<typeof useConnectionTest> }) {
  if (test.isIdle || test.isPending) return null;
  return test.isError ? (
    <Alert color="red" role="alert" title="Connection failed">
      {errorMessage(test.error)}
    </Alert>
  ) : (
    <Alert color="green" role="status" title="Connection works">
      {test.data?.message}
    </Alert>
  );
}
