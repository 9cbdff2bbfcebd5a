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
