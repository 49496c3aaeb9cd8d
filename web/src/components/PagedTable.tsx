import { Group, Pagination, ScrollArea, Table, Text } from "@mantine/core";
import type { ReactNode } from "react";
import type { Page } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "./States";
import type { usePaged } from "./usePaged";

export interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
  width?: number | string;
}

interface Props<T> {
  label: string;
  paged: ReturnType<typeof usePaged<T>>;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  empty: { title: string; hint?: ReactNode };
}

/** A table of one server page, with its pager and its loading, error and empty states. */
export function PagedTable<T>({ label, paged, columns, rowKey, empty }: Props<T>) {
  const { query, page, setPage, pages } = paged;
  if (query.isPending) return <LoadingState label={`Loading ${label}…`} />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => query.refetch()} />;
  const data: Page<T> = query.data;
  if (data.total === 0) return <EmptyState title={empty.title}>{empty.hint}</EmptyState>;
  const first = data.skip + 1;
  const last = data.skip + data.items.length;
  return (
    <>
      <ScrollArea type="auto">
        <Table striped highlightOnHover verticalSpacing="xs" aria-label={label} miw={640}>
          <Table.Thead>
            <Table.Tr>
              {columns.map((column) => (
                <Table.Th key={column.header} w={column.width}>
                  {column.header}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {data.items.map((row) => (
              <Table.Tr key={rowKey(row)}>
                {columns.map((column) => (
                  <Table.Td key={column.header}>{column.cell(row)}</Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea>
      <Group justify="space-between" mt="sm">
        <Text size="sm" c="dimmed" aria-live="polite">
          {first}–{last} of {data.total}
        </Text>
        {pages > 1 && (
          <Pagination
            total={pages}
            value={page}
            onChange={setPage}
            size="sm"
            getControlProps={(control) => ({
              "aria-label": `${control[0].toUpperCase()}${control.slice(1)} page`,
            })}
            getItemProps={(item) => ({ "aria-label": `Page ${item}` })}
          />
        )}
      </Group>
    </>
  );
}
