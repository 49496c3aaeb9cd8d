import { AppShell, Burger, Group, Menu, NavLink, ScrollArea, Text, UnstyledButton } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useMutation } from "@tanstack/react-query";
import { Link, Outlet, useLocation } from "react-router";
import { api } from "../api/client";
import { useCurrentUser } from "../auth/session";
import { NotificationBell } from "./NotificationBell";

interface NavItem {
  to: string;
  label: string;
}

const EVERYONE: NavItem[] = [
  { to: "/files", label: "My files" },
  { to: "/transfers", label: "Transfers" },
  { to: "/harvest-runs", label: "Harvest runs" },
  { to: "/instrument-requests", label: "Instrument requests" },
];

const ADMIN: NavItem[] = [
  { to: "/admin/dashboard", label: "Dashboard" },
  { to: "/admin/instruments", label: "Instruments" },
  { to: "/admin/storage-locations", label: "Storage locations" },
  { to: "/admin/service-accounts", label: "Service accounts" },
  { to: "/admin/schedules", label: "Schedules" },
  { to: "/admin/hooks", label: "Hooks" },
  { to: "/admin/users", label: "Users" },
  { to: "/admin/groups", label: "Groups" },
  { to: "/admin/projects", label: "Projects" },
  { to: "/admin/audit-log", label: "Audit log" },
];

function NavSection({ title, items, onNavigate }: { title: string; items: NavItem[]; onNavigate: () => void }) {
  const location = useLocation();
  return (
    <nav aria-label={title}>
      <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" mt="md" mb={4}>
        {title}
      </Text>
      {items.map((item) => {
        const active = location.pathname === item.to || location.pathname.startsWith(`${item.to}/`);
        return (
          <NavLink
            key={item.to}
            component={Link}
            to={item.to}
            label={item.label}
            active={active}
            aria-current={active ? "page" : undefined}
            onClick={onNavigate}
          />
        );
      })}
    </nav>
  );
}

export function Layout() {
  const user = useCurrentUser();
  const [opened, { toggle, close }] = useDisclosure();
  const logout = useMutation({
    mutationFn: () => api.post<void>("/auth/cookie/logout"),
    // A fresh page load: nothing of this session stays in memory for the next user.
    onSettled: () => window.location.replace("/login"),
  });

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 230, breakpoint: "md", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="md"
              size="sm"
              aria-label={opened ? "Close navigation" : "Open navigation"}
            />
            <Text component={Link} to="/" fw={700} size="lg" c="blue.8" td="none">
              StreamWeave
            </Text>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <NotificationBell />
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <UnstyledButton aria-label={`Account menu for ${user.email}`} px="xs">
                  <Text size="sm" truncate maw={220}>
                    {user.email}
                  </Text>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Item component={Link} to="/settings">
                  Settings
                </Menu.Item>
                <Menu.Item onClick={() => logout.mutate()}>Log out</Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <ScrollArea>
          <NavSection title="Data" items={EVERYONE} onNavigate={close} />
          {user.role === "admin" && <NavSection title="Administration" items={ADMIN} onNavigate={close} />}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
