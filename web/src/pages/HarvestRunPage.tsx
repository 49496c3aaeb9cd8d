import { Anchor, Paper, Stack, Title } from "@mantine/core";
import { Link, useParams } from "react-router";
import { ApiError } from "../api/client";
import { nameOf, useInstruments } from "../api/lookups";
import { PageHeader } from "../components/PageHeader";
import { RunSummary, useHarvestRun } from "../components/RunProgress";
import { ErrorState, LoadingState } from "../components/States";
import { formatDateTime } from "../format";
import { NotFoundPage } from "./NotFoundPage";
import { RunFiles } from "./RunFiles";

export function HarvestRunPage() {
  const { runId = "" } = useParams();
  const instruments = useInstruments();
  const run = useHarvestRun(runId);
  if (run.isPending) return <LoadingState label="Loading the harvest run…" />;
  if (run.isError) {
    const status = run.error instanceof ApiError ? run.error.status : 0;
    if (status === 404 || status === 422) return <NotFoundPage />;
    return <ErrorState error={run.error} onRetry={() => run.refetch()} />;
  }
  return (
    <>
      <Anchor component={Link} to="/harvest-runs" size="sm">
        ← Harvest runs
      </Anchor>
      <PageHeader
        title={`Harvest of ${nameOf(instruments.data?.items, run.data.instrument_id)}`}
        description={`Started ${formatDateTime(run.data.started_at)}${run.data.finished_at ? `, finished ${formatDateTime(run.data.finished_at)}` : ""}`}
      />
      <Stack gap="md">
        <Paper withBorder p="md">
          <RunSummary run={run.data} />
        </Paper>
        <Paper withBorder p="md" component="section" aria-labelledby="run-files-heading">
          <Title order={2} size="h4" id="run-files-heading" mb="sm">
            Files
          </Title>
          <RunFiles run={run.data} />
        </Paper>
      </Stack>
    </>
  );
}
