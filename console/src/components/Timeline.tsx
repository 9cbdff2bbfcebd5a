/**
 * A simple timeline from history: one bar per task, from when it was scheduled
 * to when it completed (or to now while it is open), with its attempts.
 */
import type { HistoryEvent } from "../api";
import { formatDuration, formatTime, tone } from "../format";

export interface Span {
  taskId: string;
  name: string;
  start: number;
  end: number | null;
  status: string;
  failedAttempts: number;
  /** While the task is open: what it waits on, as far as history tells. */
  waitingOn?: string | null;
  /** The worker queue of a task that waits for a worker to take it. */
  queue?: string | null;
}

function errorText(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return error ? JSON.stringify(error) : "";
}

export function spansOf(events: HistoryEvent[]): Span[] {
  const spans = new Map<string, Span>();
  for (const event of events) {
    const taskId = typeof event.payload.task_id === "string" ? event.payload.task_id : "";
    if (!taskId) continue;
    if (event.type === "TaskScheduled" || event.type === "ChildStarted") {
      const name = typeof event.payload.name === "string" && event.payload.name ? event.payload.name : taskId;
      const delay = Number(event.payload.delay ?? 0);
      const meta = (event.payload.meta ?? {}) as Record<string, unknown>;
      const queueName = typeof meta.queue === "string" ? meta.queue : "default";
      const queue = typeof meta.queue === "string" ? ` on queue ${meta.queue}` : "";
      const waitingOn =
        event.type === "ChildStarted"
          ? `its child execution ${String(event.payload.execution_id ?? "")}`
          : delay > 0
            ? `a timer until ${formatTime(event.time + delay)}`
            : `a worker to run it${queue}`;
      const onQueue = event.type === "TaskScheduled" && delay <= 0 ? queueName : null;
      spans.set(taskId, { taskId, name, start: event.time, end: null, status: "scheduled", failedAttempts: 0, waitingOn, queue: onQueue });
      continue;
    }
    const span = spans.get(taskId);
    if (!span) continue;
    if (event.type === "TaskStarted") {
      span.status = "running";
      span.waitingOn = `its worker ${String(event.payload.worker ?? "")} to finish`;
      span.queue = null;
    } else if (event.type === "TaskAttemptFailed") {
      span.failedAttempts += 1;
      const retryIn = Number(event.payload.retry_in ?? 0);
      const why = errorText(event.payload.error);
      span.waitingOn = `a retry backoff until ${formatTime(event.time + retryIn)} (attempt ${String(event.payload.attempt ?? span.failedAttempts)} failed${why ? `: ${why}` : ""})`;
    } else if (event.type === "TaskSuspended") {
      span.status = String(event.payload.status ?? "pending");
      span.waitingOn = "an answer from a person";
      span.queue = null;
    } else if (event.type === "TaskCompleted") {
      span.end = event.time;
      span.status = String(event.payload.status ?? "succeeded");
      span.waitingOn = null;
    } else if (event.type === "TaskCanceled") {
      span.end = event.time;
      span.status = "canceled";
      span.waitingOn = null;
    }
  }
  return [...spans.values()];
}

/** More spans of one name than this are drawn as one bar (a with-items task, a Map). */
const GROUP_OVER = 20;

const SEVERITY = ["bad", "busy", "wait", "idle", "ok"];

/** Spans of a name that has many (items of a fan-out) merged into one, with counts. */
export function grouped(spans: Span[]): (Span & { count: number })[] {
  const byName = new Map<string, Span[]>();
  for (const span of spans) {
    const same = byName.get(span.name);
    if (same) same.push(span);
    else byName.set(span.name, [span]);
  }
  const rows: (Span & { count: number })[] = [];
  const seen = new Set<string>();
  for (const span of spans) {
    const same = byName.get(span.name) ?? [span];
    if (same.length <= GROUP_OVER) {
      rows.push({ ...span, count: 1 });
      continue;
    }
    if (seen.has(span.name)) continue;
    seen.add(span.name);
    const open = same.some((item) => item.end === null);
    const worst = same.reduce((a, b) => (SEVERITY.indexOf(tone(a.status)) <= SEVERITY.indexOf(tone(b.status)) ? a : b));
    rows.push({
      taskId: `${span.name}*`,
      name: span.name,
      start: same.reduce((least, item) => Math.min(least, item.start), Infinity),
      end: open ? null : same.reduce((most, item) => Math.max(most, item.end ?? 0), 0),
      status: worst.status,
      failedAttempts: same.reduce((total, item) => total + item.failedAttempts, 0),
      count: same.length,
    });
  }
  return rows;
}

/**
 * One bar per span. `end` is the time of the last event of a final execution
 * (open spans end there); while it runs, open spans reach to now.
 */
export function Timeline({ spans: all, end }: { spans: Span[]; end: number | null }) {
  if (all.length === 0) return <p class="empty">No task has been scheduled.</p>;
  const spans = grouped(all);
  const first = Math.min(...spans.map((span) => span.start));
  const last = end ?? Date.now() / 1000;
  const whole = Math.max(last - first, 0.001);
  return (
    <ol class="timeline" aria-label="tasks over time">
      {spans.map((span) => {
        const end = span.end ?? last;
        const left = ((span.start - first) / whole) * 100;
        const width = Math.max(((end - span.start) / whole) * 100, 0.5);
        const retries = span.failedAttempts ? `, ${span.failedAttempts} failed attempt(s)` : "";
        return (
          <li key={span.taskId} data-task={span.name} data-status={span.status}>
            <span class="label" title={span.taskId}>
              {span.name}
              {span.count > 1 ? ` ×${span.count}` : ""}
            </span>
            <span class="track">
              <span
                class={`bar tone-${tone(span.status)}`}
                style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
                title={`${span.name}: ${span.status}, ${formatDuration(end - span.start)}${retries}`}
              />
            </span>
            <span class="when">
              {span.status} · {formatDuration(end - span.start)}
              {retries}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
