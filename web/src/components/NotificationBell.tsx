import { ActionIcon, Anchor, Badge, Button, Group, Indicator, Popover, Stack, Text } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Page } from "../api/client";
import type { Notification } from "../api/types";
import { formatDateTime } from "../format";
import { ErrorState, LoadingState } from "./States";

const COUNT_KEY = ["notifications", "unread-count"];
const LIST_KEY = ["notifications", "latest"];

function BellIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
      <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
      <path d="M13.73 21a2 2 0 0 1-3.46 0" />
    </svg>
  );
}

function NotificationList() {
  const client = useQueryClient();
  const list = useQuery({
    queryKey: LIST_KEY,
    queryFn: ({ signal }) => api.get<Page<Notification>>("/api/notifications", { limit: 10 }, signal),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ["notifications"] });
  const act = useMutation({
    mutationFn: ({ id, action }: { id: string; action: "read" | "dismiss" }) =>
      api.post<Notification>(`/api/notifications/${id}/${action}`),
    onSuccess: refresh,
  });
  const readAll = useMutation({
    mutationFn: () => api.post<void>("/api/notifications/read-all"),
    onSuccess: refresh,
  });

  if (list.isPending) return <LoadingState label="Loading notifications…" />;
  if (list.isError) return <ErrorState error={list.error} onRetry={() => list.refetch()} />;
  if (list.data.items.length === 0) {
    return (
      <Text size="sm" c="dimmed" p="sm">
        No notifications. Harvest failures and replies to your requests appear here.
      </Text>
    );
  }
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Text fw={600} size="sm">
          Notifications
        </Text>
        <Button size="compact-xs" variant="subtle" onClick={() => readAll.mutate()}>
          Mark all read
        </Button>
      </Group>
      {list.data.items.map((item) => (
        <Stack key={item.id} gap={2} p="xs" bg={item.read ? undefined : "blue.0"} style={{ borderRadius: 4 }}>
          <Group justify="space-between" wrap="nowrap" gap="xs">
            <Text size="sm" fw={item.read ? 400 : 600}>
              {item.link ? (
                <Anchor component={Link} to={item.link} size="sm">
                  {item.title}
                </Anchor>
              ) : (
                item.title
              )}
            </Text>
            {!item.read && <Badge size="xs">new</Badge>}
          </Group>
          <Text size="xs">{item.message}</Text>
          <Group justify="space-between">
            <Text size="xs" c="dimmed">
              {formatDateTime(item.created_at)}
            </Text>
            <Group gap={4}>
              {!item.read && (
                <Button size="compact-xs" variant="subtle" onClick={() => act.mutate({ id: item.id, action: "read" })}>
                  Mark read
                </Button>
              )}
              <Button
                size="compact-xs"
                variant="subtle"
                color="gray"
                onClick={() => act.mutate({ id: item.id, action: "dismiss" })}
              >
                Dismiss
              </Button>
            </Group>
          </Group>
        </Stack>
      ))}
    </Stack>
  );
}

export function NotificationBell() {
  const count = useQuery({
    queryKey: COUNT_KEY,
    queryFn: ({ signal }) => api.get<{ count: number }>("/api/notifications/unread-count", undefined, signal),
    refetchInterval: 60_000,
  });
  const unread = count.data?.count ?? 0;
  const label = unread ? `Notifications, ${unread} unread` : "Notifications";
  return (
    <Popover width={360} position="bottom-end" shadow="md" withinPortal trapFocus>
      <Popover.Target>
        <Indicator label={unread > 99 ? "99+" : unread} size={16} disabled={unread === 0} offset={4}>
          <ActionIcon variant="subtle" size="lg" aria-label={label}>
            <BellIcon />
          </ActionIcon>
        </Indicator>
      </Popover.Target>
      <Popover.Dropdown>
        <NotificationList />
      </Popover.Dropdown>
    </Popover>
  );
}
