import { Anchor } from "@mantine/core";
import { Link } from "react-router";
import type { HarvestRun } from "../api/types";
import { formatBytes, formatDateTime, formatDuration } from "../format";
import type { Column } from "./PagedTable";
import { StatusBadge } from "./StatusBadge";

/** The columns that read the same in every table of harvest runs; "Started" opens the run. */
export const RUN_COLUMNS = {
  started: {
    header: "Started",
    cell: (run) => (
      <Anchor component={Link} to={`/harvest-runs/${run.id}`} size="sm">
        {formatDateTime(run.started_at)}
      </Anchor>
    ),
  },
  status: { header: "Status", cell: (run) => <StatusBadge status={run.status} /> },
  bytes: { header: "Bytes", cell: (run) => formatBytes(run.bytes_transferred) },
  duration: { header: "Duration", cell: (run) => formatDuration(run.duration_seconds) },
} satisfies Record<string, Column<HarvestRun>>;
