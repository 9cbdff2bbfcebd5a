/**
 * An execution's graph: its definition's steps coloured by status, and for a
 * state machine each Map and Parallel state's insides, one click away, with
 * how its iterations went. A code workflow's graph is its task tree, from its
 * history; a trigger workspace's is its triggers, with how often each fired.
 */
import { useMemo } from "preact/hooks";
import type { Definition, HistoryEvent } from "../api";
import { codeTree } from "../codeTree";
import type { MapCounts } from "../stateMachine";
import { innerMachines, stepsOf } from "../steps";
import { type TriggerDoc, triggerStatuses, triggerSteps } from "../triggerGraph";
import { StepGraph } from "./Graph";

export function GraphOf({
  kind,
  definition,
  statuses,
  maps,
  events,
  triggers,
  executionStatus,
}: {
  kind: string;
  definition: Definition | null;
  statuses: Map<string, string>;
  maps: Map<string, MapCounts>;
  /** The history read so far: a code workflow's graph is its task tree, drawn from it. */
  events: HistoryEvent[];
  /** A trigger workspace's triggers with their fire counts (`GET .../triggers`). */
  triggers: TriggerDoc[] | null;
  executionStatus: string;
}) {
  const steps = useMemo(
    () => (definition?.source ? stepsOf(kind, definition.source, definition.document) : null),
    [kind, definition],
  );
  const inner = useMemo(
    () => (kind === "states" && definition?.source ? innerMachines(definition.source, definition.document) : []),
    [kind, definition],
  );
  const tree = useMemo(() => (kind === "code" ? codeTree(events) : null), [kind, events]);
  const fired = useMemo(
    () => (kind === "triggers" && triggers ? { steps: triggerSteps(triggers), statuses: triggerStatuses(triggers, executionStatus) } : null),
    [kind, triggers, executionStatus],
  );
  if (tree) {
    if (tree.steps.steps.length <= 1) return <p class="empty">Nothing issued yet.</p>;
    return <StepGraph steps={tree.steps} statuses={tree.statuses} />;
  }
  if (fired) return <StepGraph steps={fired.steps} statuses={fired.statuses} />;
  if (!definition) return <p class="empty">Loading the definition…</p>;
  if (!steps) return <p class="empty">The console cannot draw this {kind} definition.</p>;
  return (
    <>
      <StepGraph steps={steps} statuses={statuses} />
      {inner.map((machine) => (
        <details key={machine.state} class="inner" data-inner={machine.state}>
          <summary>
            Inside {machine.type} {machine.state}
            {machine.type === "Map" ? `: ${iterationText(maps.get(machine.state))}` : `: ${machine.parts.length} branches`}
          </summary>
          {machine.parts.map((part) => (
            <div key={part.label} class="inner-part">
              <h3>{part.label}</h3>
              <StepGraph steps={part.steps} statuses={statuses} />
            </div>
          ))}
        </details>
      ))}
    </>
  );
}

/** "5,000 items: 4,998 succeeded, 2 failed" from a Map's counts. */
function iterationText(counts: MapCounts | undefined): string {
  if (!counts) return "not started";
  const ended = [
    [counts.succeeded, "succeeded"],
    [counts.failed, "failed"],
    [counts.aborted, "aborted"],
  ] as const;
  const running = counts.started - counts.succeeded - counts.failed - counts.aborted;
  const parts = [...ended, [running, "running"] as const]
    .filter(([n]) => n > 0)
    .map(([n, word]) => `${n.toLocaleString()} ${word}`);
  const items = counts.items === null ? `${counts.started.toLocaleString()} iterations` : `${counts.items.toLocaleString()} items`;
  return parts.length ? `${items}, ${parts.join(", ")}` : items;
}
