import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "./client";

interface SaveOptions<TVariables, TSaved> {
  /** The collection whose cached lists and lookups the save makes stale. */
  collection: string;
  send: (variables: TVariables) => Promise<TSaved>;
  /** What the form does next: close, reset, or go to what was saved. */
  onSaved: (saved: TSaved) => void;
}

/** A form's create or update, which refreshes its collection before the form moves on. */
export function useSave<TVariables = void, TSaved = unknown>({ collection, send, onSaved }: SaveOptions<TVariables, TSaved>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: send,
    onSuccess: async (saved) => {
      // Awaited, so the list behind the form already shows the change when the form goes.
      await client.invalidateQueries({ queryKey: [collection] });
      onSaved(saved);
    },
  });
}

/** POST a new item to its collection, or PATCH the one being edited. */
export function createOrUpdate<T>(collection: string, item: { id: string } | null, body: unknown): Promise<T> {
  return item ? api.patch<T>(`${collection}/${item.id}`, body) : api.post<T>(collection, body);
}
