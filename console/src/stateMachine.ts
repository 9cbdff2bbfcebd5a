/**
 * What a state machine's Step Functions event list (the `sfn` view of its
 * history) says about each state: its status, and when it was entered and left.
 */
import type { Span } from "./components/Timeline";

export interface SfnEvent {
  id: number;
  type: string;
  timestamp: number;
  stateEnteredEventDetails?: { name: string };
  stateExitedEventDetails?: { name: string };
  mapStateStartedEventDetails?: { length: number };
  [details: string]: unknown;
}

/** How a Map state's iterations went: how many items, started, and how each ended. */
export interface MapCounts {
  items: number | null;
  started: number;
  succeeded: number;
  failed: number;
  aborted: number;
}

/** Each Map state's iteration counts, by its name (from its Map* events). */
export function mapCounts(events: SfnEvent[]): Map<string, MapCounts> {
  const counts = new Map<string, MapCounts>();
  const of = (name: string): MapCounts => {
    let found = counts.get(name);
    if (!found) {
      found = { items: null, started: 0, succeeded: 0, failed: 0, aborted: 0 };
      counts.set(name, found);
    }
    return found;
  };
  let current: string | null = null;
  for (const event of events) {
    if (event.type === "MapStateEntered" && event.stateEnteredEventDetails) current = event.stateEnteredEventDetails.name;
    if (event.type === "MapStateStarted" && current !== null) of(current).items = event.mapStateStartedEventDetails?.length ?? null;
    const ended = /^MapIteration(Started|Succeeded|Failed|Aborted)$/.exec(event.type);
    if (!ended) continue;
    const details = event[`mapIteration${ended[1]}EventDetails`] as { name?: string } | undefined;
    const name = details?.name ?? current;
    if (!name) continue;
    const key = ended[1].toLowerCase() as "started" | "succeeded" | "failed" | "aborted";
    of(name)[key] += 1;
  }
  return counts;
}

/** Each state's span; a state still open when the execution failed is the one that failed. */
export function stateSpans(events: SfnEvent[]): Span[] {
  const spans: Span[] = [];
  const open = new Map<string, Span>();
  let failedAt: number | null = null;
  for (const event of events) {
    const entered = event.stateEnteredEventDetails?.name;
    const exited = event.stateExitedEventDetails?.name;
    if (entered !== undefined) {
      const span: Span = {
        taskId: `${entered}#${event.id}`,
        name: entered,
        start: event.timestamp,
        end: null,
        status: event.type === "FailStateEntered" ? "failed" : "running",
        failedAttempts: 0,
      };
      spans.push(span);
      open.set(entered, span);
    } else if (exited !== undefined) {
      const span = open.get(exited);
      if (span) {
        span.end = event.timestamp;
        span.status = "succeeded";
        open.delete(exited);
      }
    } else if (event.type.endsWith("Failed") && event.type !== "ExecutionFailed") {
      // TaskFailed, LambdaFunctionFailed...: the attempt of the open state failed (it may retry).
      for (const span of open.values()) span.failedAttempts += 1;
    } else if (["ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"].includes(event.type)) {
      failedAt = event.timestamp;
    }
  }
  if (failedAt !== null) {
    for (const span of open.values()) {
      span.end = failedAt;
      span.status = "failed";
    }
  }
  return spans;
}

/** The status of each state: that of its latest span. */
export function stateStatuses(spans: Span[]): Map<string, string> {
  return new Map(spans.map((span) => [span.name, span.status]));
}
