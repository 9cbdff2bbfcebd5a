/**
 * An execution's graph: its definition's steps coloured by status, and for a
 * state machine each Map and Parallel state's insides, one click away, with
 * how its iterations went.
 */
import { useMemo } from "preact/hooks";
import type { Definition } from "../api";
import type { MapCounts } from "../stateMachine";
import { innerMachines, stepsOf } from "../steps";
import { StepGraph } from "./Graph";

export function GraphOf({
  kind,
  definition,
  statuses,
  maps,
}: {
  kind: string;
  definition: Definition | null;
  statuses: Map<string, string>;
  maps: Map<string, MapCounts>;
}) {
  const steps = useMemo(() => (definition?.source ? stepsOf(kind, definition.source) : null), [kind, definition]);
  const inner = useMemo(
    () => (kind === "states" && definition?.source ? innerMachines(definition.source) : []),
    [kind, definition],
  );
  if (!definition) return <p class="empty">Loading the definition…</p>;
  if (!steps) return <p class="empty">The console draws Orquesta, state machine and saga definitions; this is {kind}.</p>;
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
