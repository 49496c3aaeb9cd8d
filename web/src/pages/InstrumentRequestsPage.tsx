import { Badge, Button, Group, Modal, Paper, Select, Stack, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useState } from "react";
import { api } from "../api/client";
import { useSave } from "../api/useSave";
import { useCurrentUser } from "../auth/session";
import { FormActions } from "../components/FormActions";
import { PageHeader } from "../components/PageHeader";
import { PagedTable } from "../components/PagedTable";
import { FormError } from "../components/States";
import { usePaged } from "../components/usePaged";
import { formatDateTime } from "../format";

const COLLECTION = "/api/instrument-requests";

export interface InstrumentRequest {
  id: string;
  requester_id: string;
  name: string;
  location: string;
  harvest_frequency: string;
  description: string | null;
  justification: string;
  status: "pending" | "approved" | "rejected";
  admin_notes: string | null;
  created_at: string;
  updated_at: string;
}

const STATUS_COLOR = { pending: "gray", approved: "green", rejected: "red" } as const;

export function RequestForm({ onDone }: { onDone?: () => void }) {
  const form = useForm({
    initialValues: { name: "", location: "", harvest_frequency: "", description: "", justification: "" },
    validate: {
      name: (value) => (value.trim() ? null : "Name the instrument"),
      location: (value) => (value.trim() ? null : "Say where it is (building, room)"),
      harvest_frequency: (value) => (value.trim() ? null : "Say how often its data should be collected"),
      justification: (value) => (value.trim() ? null : "Explain why its data should be collected"),
    },
  });
  const send = useSave({
    collection: COLLECTION,
    send: (values: typeof form.values) =>
      api.post(COLLECTION, {
        name: values.name.trim(),
        location: values.location.trim(),
        harvest_frequency: values.harvest_frequency.trim(),
        description: values.description.trim() || null,
        justification: values.justification.trim(),
      }),
    onSaved: () => {
      form.reset();
      onDone?.();
    },
  });
  return (
    <form onSubmit={form.onSubmit((values) => send.mutate(values))} noValidate>
      <Stack gap="sm">
        <FormError error={send.error} />
        {send.isSuccess && (
          <Text size="sm" role="status" c="green.8">
            Request sent. You will get a notification when it is reviewed.
          </Text>
        )}
        <Group grow align="flex-start">
          <TextInput label="Instrument" placeholder="Bruker Avance 600" required {...form.getInputProps("name")} />
          <TextInput label="Where it is" placeholder="Building B, room 2.14" required {...form.getInputProps("location")} />
        </Group>
        <TextInput label="How often" placeholder="every hour during working days" required {...form.getInputProps("harvest_frequency")} />
        <Textarea label="Description" autosize minRows={2} {...form.getInputProps("description")} />
        <Textarea label="Why" description="Who uses its data, and what for" autosize minRows={2} required {...form.getInputProps("justification")} />
        <Group>
          <Button type="submit" loading={send.isPending}>
            Send request
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function Review({ item, onDone }: { item: InstrumentRequest; onDone: () => void }) {
  const form = useForm({ initialValues: { status: item.status as string, admin_notes: item.admin_notes ?? "" } });
  const save = useSave({
    collection: COLLECTION,
    send: (values: { status: string; admin_notes: string }) =>
      api.patch(`${COLLECTION}/${item.id}`, { status: values.status, admin_notes: values.admin_notes.trim() || null }),
    onSaved: onDone,
  });
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
      <Stack gap="sm">
        <FormError error={save.error} />
        <Text size="sm">
          <b>{item.name}</b> at {item.location}, {item.harvest_frequency}
        </Text>
        {item.description && <Text size="sm">{item.description}</Text>}
        <Text size="sm" c="dimmed">
          Why: {item.justification}
        </Text>
        <Select
          label="Decision"
          allowDeselect={false}
          data={[
            { value: "pending", label: "Pending" },
            { value: "approved", label: "Approved" },
            { value: "rejected", label: "Rejected" },
          ]}
          {...form.getInputProps("status")}
        />
        <Textarea label="Note to the requester" autosize minRows={2} {...form.getInputProps("admin_notes")} />
        <FormActions submitLabel="Save and notify" pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

export function InstrumentRequestsPage() {
  const user = useCurrentUser();
  const admin = user.role === "admin";
  const [status, setStatus] = useState<string | null>(admin ? "pending" : null);
  const [reviewing, setReviewing] = useState<InstrumentRequest | null>(null);
  const paged = usePaged<InstrumentRequest>(COLLECTION, { status_filter: status });
  return (
    <>
      <PageHeader
        title="Instrument requests"
        description={admin ? "Requests to harvest new instruments: review them here." : "Ask for an instrument's data to be collected by StreamWeave."}
      />
      <Stack gap="md">
        <Paper withBorder p="md" component="section" aria-labelledby="request-heading">
          <Title order={2} size="h4" id="request-heading" mb="sm">
            Request an instrument
          </Title>
          <RequestForm />
        </Paper>
        <Paper withBorder p="md" component="section" aria-labelledby="requests-heading">
          <Group justify="space-between" mb="sm">
            <Title order={2} size="h4" id="requests-heading">
              {admin ? "All requests" : "Your requests"}
            </Title>
            <Select
              aria-label="Status"
              placeholder="Any status"
              clearable
              w={180}
              data={[
                { value: "pending", label: "Pending" },
                { value: "approved", label: "Approved" },
                { value: "rejected", label: "Rejected" },
              ]}
              value={status}
              onChange={setStatus}
            />
          </Group>
          <PagedTable
            label="Instrument requests"
            paged={paged}
            rowKey={(item) => item.id}
            empty={{ title: status ? `No ${status} requests` : "No requests yet" }}
            columns={[
              { header: "Instrument", cell: (item) => item.name },
              { header: "Where", cell: (item) => item.location },
              { header: "Sent", cell: (item) => formatDateTime(item.created_at) },
              { header: "Status", cell: (item) => <Badge color={STATUS_COLOR[item.status]} variant="light">{item.status}</Badge> },
              { header: "Note", cell: (item) => item.admin_notes ?? "—" },
              ...(admin
                ? [
                    {
                      header: "",
                      cell: (item: InstrumentRequest) => (
                        <Button size="compact-sm" variant="default" onClick={() => setReviewing(item)} aria-label={`Review ${item.name}`}>
                          Review
                        </Button>
                      ),
                    },
                  ]
                : []),
            ]}
          />
        </Paper>
      </Stack>
      <Modal opened={reviewing !== null} onClose={() => setReviewing(null)} title="Review the request">
        {reviewing && <Review item={reviewing} onDone={() => setReviewing(null)} />}
      </Modal>
    </>
  );
}
