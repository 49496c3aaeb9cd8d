import { Alert, Button, Stack, Text } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Page } from "../../api/client";
import type { HarvestRun, HarvestTriggered } from "../../api/types";
import { LiveRun } from "../../components/RunProgress";
import { FormError } from "../../components/States";

interface Trigger {
  at: number;
  flowRunIds: string[];
}

/** The run a trigger started: by its flow run id, else the first run that began after it. */
export function findTriggeredRun(runs: HarvestRun[], trigger: Trigger): HarvestRun | undefined {
  const byFlow = runs.find((run) => run.prefect_flow_run_id && trigger.flowRunIds.includes(run.prefect_flow_run_id));
  if (byFlow) return byFlow;
  // Clocks of browser and server differ a little: allow a few seconds of skew.
  return runs.find((run) => new Date(run.started_at).getTime() >= trigger.at - 5_000);
}

function WaitForRun({ instrumentId, trigger }: { instrumentId: string; trigger: Trigger }) {
  const runs = useQuery({
    queryKey: ["/api/harvest-runs", "triggered", instrumentId, trigger.at],
    queryFn: ({ signal }) =>
      api.get<Page<HarvestRun>>("/api/harvest-runs", { instrument_id: instrumentId, limit: 5 }, signal),
    refetchInterval: (query) => (query.state.data && findTriggeredRun(query.state.data.items, trigger) ? false : 1_000),
  });
  const run = runs.data ? findTriggeredRun(runs.data.items, trigger) : undefined;
  if (!run) {
    return (
      <Text size="sm" role="status">
        Harvest requested; waiting for it to start…
      </Text>
    );
  }
  return <LiveRun runId={run.id} />;
}

export function HarvestNow({ instrumentId, disabled }: { instrumentId: string; disabled: boolean }) {
  const [trigger, setTrigger] = useState<Trigger | null>(null);
  const start = useMutation({
    mutationFn: () => api.post<HarvestTriggered>(`/api/instruments/${instrumentId}/harvest`),
    onMutate: () => setTrigger(null),
    onSuccess: (answer) => {
      setTrigger({ at: Date.now(), flowRunIds: answer.triggered.map((item) => item.flow_run_id) });
    },
  });
  return (
    <Stack gap="sm">
      <div>
        <Button onClick={() => start.mutate()} loading={start.isPending} disabled={disabled}>
          Harvest now
        </Button>
      </div>
      <FormError error={start.error} />
      {start.data && start.data.errors.length > 0 && (
        <Alert color="orange" role="alert" title="Some schedules could not be started">
          {start.data.errors.map((error) => (typeof error === "string" ? error : JSON.stringify(error))).join("; ")}
        </Alert>
      )}
      {trigger && <WaitForRun instrumentId={instrumentId} trigger={trigger} />}
    </Stack>
  );
}
