import { Badge } from "@mantine/core";

const COLORS: Record<string, string> = {
  completed: "green",
  verified: "green",
  running: "blue",
  in_progress: "blue",
  pending: "gray",
  skipped: "gray",
  completed_with_errors: "orange",
  failed: "red",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge color={COLORS[status] ?? "gray"} variant="light">
      {status.replaceAll("_", " ")}
    </Badge>
  );
}
