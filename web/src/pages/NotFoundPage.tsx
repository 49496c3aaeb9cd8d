import { Anchor, Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router";

export function NotFoundPage() {
  return (
    <Stack align="center" py={64} gap="xs">
      <Title order={1}>Page not found</Title>
      <Text c="dimmed" ta="center" maw={460}>
        This page does not exist, or you do not have access to it. Check the address, or go back
        to your files.
      </Text>
      <Anchor component={Link} to="/files">
        Go to my files
      </Anchor>
    </Stack>
  );
}
