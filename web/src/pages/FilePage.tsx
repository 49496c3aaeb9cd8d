import { Anchor, Badge, Code, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import { nameOf, useInstruments, useStorageLocations } from "../api/lookups";
import type { ArkResolution, FileRecord, Transfer } from "../api/types";
import { useCurrentUser } from "../auth/session";
import { Copyable } from "../components/Copyable";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { ErrorState, LoadingState } from "../components/States";
import { TRANSFER_COLUMNS } from "../components/transferColumns";
import { usePaged } from "../components/usePaged";
import { formatBytes, formatDateTime } from "../format";
import { AccessGrants } from "./AccessGrants";
import { NotFoundPage } from "./NotFoundPage";
import { ApiError } from "../api/client";

function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = `section-${title.toLowerCase().replaceAll(" ", "-")}`;
  return (
    <Paper withBorder p="md" component="section" aria-labelledby={id}>
      <Title order={2} size="h4" id={id} mb="sm">
        {title}
      </Title>
      {children}
    </Paper>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" fw={600}>
        {label}
      </Text>
      <div>{children}</div>
    </div>
  );
}

function Versions({ ark }: { ark: string }) {
  const resolution = useQuery({
    queryKey: ["ark", ark],
    queryFn: ({ signal }) => api.get<ArkResolution>(`/${ark}`, undefined, signal),
  });
  if (resolution.isPending) return <LoadingState label="Loading versions…" />;
  if (resolution.isError) return <ErrorState error={resolution.error} onRetry={() => resolution.refetch()} />;
  return (
    <Table.ScrollContainer minWidth={560}>
      <Table aria-label="Versions" verticalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>ARK</Table.Th>
            <Table.Th>Size</Table.Th>
            <Table.Th>Checksums</Table.Th>
            <Table.Th>Seen</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {resolution.data.versions.map((version) => (
            <Table.Tr key={version.persistent_id}>
              <Table.Td>{version.version}</Table.Td>
              <Table.Td>
                <Anchor href={`/${version.persistent_id}`} size="xs" ff="monospace">
                  {version.persistent_id}
                </Anchor>
              </Table.Td>
              <Table.Td>{formatBytes(version.size_bytes)}</Table.Td>
              <Table.Td>
                {Object.entries(version.checksums).map(([algorithm, digest]) => (
                  <Text key={algorithm} size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>
                    {algorithm}: {digest}
                  </Text>
                ))}
              </Table.Td>
              <Table.Td>{formatDateTime(version.discovered_at)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Transfers({ fileId }: { fileId: string }) {
  const paged = usePaged<Transfer>("/api/transfers", { file_id: fileId });
  const storage = useStorageLocations(useCurrentUser().role === "admin");
  return (
    <PagedTable
      label="Transfers of this file"
      paged={paged}
      rowKey={(transfer) => transfer.id}
      empty={{ title: "No transfers recorded" }}
      columns={[
        TRANSFER_COLUMNS.status,
        {
          header: "Checksum",
          cell: (transfer) =>
            transfer.checksum_verified ? (
              <Badge color="green" variant="outline">
                verified ({transfer.checksum_algorithm})
              </Badge>
            ) : (
              <Badge color="gray" variant="outline">
                not verified
              </Badge>
            ),
        },
        {
          header: "Destination",
          cell: (transfer) => (
            <Stack gap={0}>
              <Text size="xs">{nameOf(storage.data?.items, transfer.storage_location_id)}</Text>
              <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>
                {transfer.destination_path ?? "—"}
              </Text>
            </Stack>
          ),
        },
        TRANSFER_COLUMNS.bytes,
        TRANSFER_COLUMNS.completed,
        TRANSFER_COLUMNS.error,
      ]}
    />
  );
}

export function FilePage() {
  const { fileId = "" } = useParams();
  const user = useCurrentUser();
  const instruments = useInstruments();
  const file = useQuery({
    queryKey: ["/api/files", fileId],
    queryFn: ({ signal }) => api.get<FileRecord>(`/api/files/${fileId}`, undefined, signal),
  });
  if (file.isPending) return <LoadingState label="Loading the file…" />;
  if (file.isError) {
    const status = file.error instanceof ApiError ? file.error.status : 0;
    if (status === 404 || status === 422) return <NotFoundPage />;
    return <ErrorState error={file.error} onRetry={() => file.refetch()} />;
  }
  const record = file.data;
  const metadata = Object.entries(record.metadata_ ?? {});
  return (
    <>
      <Anchor component={Link} to="/files" size="sm">
        ← My files
      </Anchor>
      <PageHeader title={record.filename} description={record.source_path} />
      <Stack gap="md">
        <Section title="Identifier">
          <Group gap="md" wrap="wrap">
            <Copyable value={record.persistent_id} label="ARK" />
            <Anchor href={`/${record.persistent_id}`} target="_blank" rel="noopener">
              Resolve ARK
            </Anchor>
          </Group>
        </Section>
        <Section title="Details">
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            <Fact label="Instrument">{nameOf(instruments.data?.items, record.instrument_id)}</Fact>
            <Fact label="Size">{formatBytes(record.size_bytes)}</Fact>
            <Fact label="Current version">{record.current_version}</Fact>
            <Fact label="Modified at the source">{formatDateTime(record.source_mtime)}</Fact>
            <Fact label="First found">{formatDateTime(record.first_discovered_at)}</Fact>
            <Fact label="At the source">
              {record.source_deleted_at ? `removed ${formatDateTime(record.source_deleted_at)}` : "present"}
            </Fact>
            {record.xxhash && (
              <Fact label="xxh3-128">
                <Code>{record.xxhash}</Code>
              </Fact>
            )}
            {record.sha256 && (
              <Fact label="SHA-256">
                <Code style={{ wordBreak: "break-all" }}>{record.sha256}</Code>
              </Fact>
            )}
            {record.md5 && (
              <Fact label="MD5">
                <Code>{record.md5}</Code>
              </Fact>
            )}
          </SimpleGrid>
        </Section>
        <Section title="Metadata">
          {metadata.length === 0 ? (
            <Text size="sm" c="dimmed">
              No metadata was extracted for this file.
            </Text>
          ) : (
            <Table aria-label="Metadata" verticalSpacing={4}>
              <Table.Tbody>
                {metadata.map(([key, value]) => (
                  <Table.Tr key={key}>
                    <Table.Th w="30%">{key}</Table.Th>
                    <Table.Td style={{ wordBreak: "break-all" }}>
                      {typeof value === "string" ? value : JSON.stringify(value)}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Section>
        <Section title="Versions">
          <Versions ark={record.persistent_id} />
        </Section>
        <Section title="Transfers">
          <Transfers fileId={record.id} />
        </Section>
        <Section title="Who has access">
          {user.role === "admin" ? (
            <AccessGrants
              path={`/api/files/${record.id}/access`}
              intro="Besides these grants, the file's owner and administrators may see it."
            />
          ) : (
            <Text size="sm">
              You can see this file because you own it, or it was shared with you or with one of
              your groups or projects. Your data manager can tell you who else has access.
            </Text>
          )}
        </Section>
      </Stack>
    </>
  );
}
