import { Anchor, Group, Select, SimpleGrid, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useState } from "react";
import { Link } from "react-router";
import { nameOf, useInstruments } from "../api/lookups";
import type { FileRecord } from "../api/types";
import { FilterPanel } from "../components/FilterPanel";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { usePaged } from "../components/usePaged";
import { formatBytes, formatDateTime } from "../format";

export interface FileFilters {
  instrument_id: string;
  path_prefix: string;
  metadata_key: string;
  metadata_value: string;
  discovered_after: string;
  discovered_before: string;
  persistent_id: string;
}

const NO_FILTERS: FileFilters = {
  instrument_id: "",
  path_prefix: "",
  metadata_key: "",
  metadata_value: "",
  discovered_after: "",
  discovered_before: "",
  persistent_id: "",
};

/** The query the API takes: trimmed, empty ones left out, dates as whole UTC days. */
export function fileQuery(filters: FileFilters): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(filters)) {
    const text = value.trim();
    if (!text) continue;
    if (key === "discovered_after") query[key] = `${text}T00:00:00Z`;
    else if (key === "discovered_before") query[key] = `${text}T23:59:59.999999Z`;
    else query[key] = text;
  }
  return query;
}

export function FilesPage() {
  const instruments = useInstruments();
  const [applied, setApplied] = useState<FileFilters>(NO_FILTERS);
  const form = useForm<FileFilters>({
    initialValues: NO_FILTERS,
    validate: {
      metadata_value: (value, values) =>
        value.trim() && !values.metadata_key.trim() ? "Name the metadata field too" : null,
    },
  });
  const paged = usePaged<FileRecord>("/api/files", fileQuery(applied));
  const instrumentOptions = (instruments.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }));

  return (
    <>
      <PageHeader title="My files" description="Every file you may see, harvested from the lab's instruments." />
      <FilterPanel label="Search files" form={form} submitLabel="Search" onApply={setApplied}>
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }} spacing="sm">
          <Select
            label="Instrument"
            placeholder="Any instrument"
            data={instrumentOptions}
            clearable
            searchable
            {...form.getInputProps("instrument_id")}
            value={form.values.instrument_id || null}
            onChange={(value) => form.setFieldValue("instrument_id", value ?? "")}
          />
          <TextInput label="Path starts with" placeholder="2024-05-02_run7/" {...form.getInputProps("path_prefix")} />
          <TextInput label="ARK" placeholder="ark:/99999/fk4…" {...form.getInputProps("persistent_id")} />
          <Group grow gap="xs" align="flex-start">
            <TextInput label="Found from" type="date" {...form.getInputProps("discovered_after")} />
            <TextInput label="until" type="date" {...form.getInputProps("discovered_before")} />
          </Group>
          <TextInput label="Metadata field" placeholder="sample" {...form.getInputProps("metadata_key")} />
          <TextInput label="Metadata value" placeholder="S-042" {...form.getInputProps("metadata_value")} />
        </SimpleGrid>
      </FilterPanel>
      <PagedTable
        label="Files"
        paged={paged}
        rowKey={(file) => file.id}
        empty={{
          title: "No files found",
          hint:
            JSON.stringify(applied) === JSON.stringify(NO_FILTERS)
              ? "You have no files yet: files appear once an instrument you have access to is harvested. Ask your data manager for access."
              : "No file matches these filters. Loosen them or clear the search.",
        }}
        columns={[
          {
            header: "File",
            cell: (file) => (
              <Anchor component={Link} to={`/files/${file.id}`}>
                {file.filename}
              </Anchor>
            ),
          },
          {
            header: "Path",
            cell: (file) => (
              <Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }}>
                {file.source_path}
              </Text>
            ),
          },
          { header: "Instrument", cell: (file) => nameOf(instruments.data?.items, file.instrument_id) },
          { header: "Size", cell: (file) => formatBytes(file.size_bytes) },
          { header: "Found", cell: (file) => formatDateTime(file.first_discovered_at) },
          {
            header: "ARK",
            cell: (file) => (
              <Text size="xs" ff="monospace">
                {file.persistent_id}
              </Text>
            ),
          },
        ]}
      />
    </>
  );
}
