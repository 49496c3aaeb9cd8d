import { Modal, type ModalProps } from "@mantine/core";
import type { ReactNode } from "react";

/** What a list page's modal form is open for: nothing, a new item, or the item being edited. */
export type Editing<T> = T | "new" | null;

/** The modal that creates or edits one item of an admin list; its form gets null for a new item. */
export function EditorModal<T extends object>({
  editing,
  noun,
  size,
  onClose,
  children,
}: {
  editing: Editing<T>;
  noun: string;
  size?: ModalProps["size"];
  onClose: () => void;
  children: (item: T | null) => ReactNode;
}) {
  return (
    <Modal opened={editing !== null} onClose={onClose} title={editing === "new" ? `New ${noun}` : `Edit ${noun}`} size={size}>
      {editing !== null && children(editing === "new" ? null : editing)}
    </Modal>
  );
}
