/**
 * A timeline (Gantt) from history: a row per task, from when it was scheduled
 * to when it completed (or to now while it is open). A task's row shows each
 * attempt as a bar, the retry backoff between attempts, a start delay and a
 * wait for a person's answer as hatched gaps; a code workflow's and a
 * workspace's timers are rows of their own.
 */
import type { HistoryEvent } from "../api";
import { formatDuration, formatTime, tone } from "../format";

/** One piece of a row: an attempt that ran, or a wait (a backoff, a timer, an answer). */
export interface Segment {
  kind: "attempt" | "backoff" | "timer" | "answer";
  start: number;
  /** Null while it lasts. */
  end: number | null;
  status: string;
  /** What it was, for its tooltip ("attempt 1 failed: the bank is closed"). */
  label: string;
}

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
  /** Its attempts and the waits between them, in order (from the task's history). */
  segments?: Segment[];
}

/** Timers an interpreter starts for itself (a code workflow's own deadlines), not waits to show. */
const OWN_TIMERS = ["code.stuck@", "code.unstuck@", "code.timeout:"];

function errorText(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return error ? JSON.stringify(error) : "";
}

export function spansOf(events: HistoryEvent[]): Span[] {
  const spans = new Map<string, Span>();
  /** When each open task's current attempt began, and its number. */
  const attempts = new Map<string, { start: number; number: number }>();
  const close = (span: Span, kind: Segment["kind"], end: number, status: string, label: string) => {
    const open = span.segments?.find((segment) => segment.end === null && segment.kind === kind);
    if (open) {
      open.end = end;
      open.status = status;
      open.label = label || open.label;
    }
  };
  const endAttempt = (span: Span, end: number, status: string, why: string) => {
    const current = attempts.get(span.taskId);
    if (!current) return;
    const label = `attempt ${current.number} ${status}${why ? `: ${why}` : ""}`;
    span.segments?.push({ kind: "attempt", start: current.start, end, status, label });
    attempts.delete(span.taskId);
  };
  for (const event of events) {
    if (event.type === "TimerStarted" || event.type === "TimerFired") {
      const timerId = String(event.payload.timer_id ?? "");
      if (!timerId || OWN_TIMERS.some((prefix) => timerId.startsWith(prefix))) continue;
      if (event.type === "TimerStarted") {
        const delay = Number(event.payload.delay ?? 0);
        const label = `timer ${formatDuration(delay)}`;
        spans.set(timerId, {
          taskId: timerId,
          name: label,
          start: event.time,
          end: null,
          status: "waiting",
          failedAttempts: 0,
          waitingOn: `a timer until ${formatTime(event.time + delay)}`,
          segments: [{ kind: "timer", start: event.time, end: null, status: "waiting", label: `${label}, due ${formatTime(event.time + delay)}` }],
        });
      } else {
        const span = spans.get(timerId);
        if (!span) continue;
        span.end = event.time;
        span.status = "fired";
        span.waitingOn = null;
        close(span, "timer", event.time, "fired", "");
      }
      continue;
    }
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
      const segments: Segment[] =
        delay > 0 ? [{ kind: "timer", start: event.time, end: event.time + delay, status: "waiting", label: `delayed ${formatDuration(delay)}` }] : [];
      spans.set(taskId, { taskId, name, start: event.time, end: null, status: "scheduled", failedAttempts: 0, waitingOn, queue: onQueue, segments });
      attempts.set(taskId, { start: event.time + Math.max(delay, 0), number: 1 });
      continue;
    }
    const span = spans.get(taskId);
    if (!span) continue;
    if (event.type === "TaskStarted") {
      span.status = "running";
      span.waitingOn = `its worker ${String(event.payload.worker ?? "")} to finish`;
      span.queue = null;
      // The attempt runs from when a worker took it, not from when it was due.
      const current = attempts.get(taskId);
      attempts.set(taskId, { start: event.time, number: current?.number ?? span.failedAttempts + 1 });
    } else if (event.type === "TaskAttemptFailed") {
      span.failedAttempts += 1;
      const retryIn = Number(event.payload.retry_in ?? 0);
      const why = errorText(event.payload.error);
      const number = Number(event.payload.attempt ?? span.failedAttempts);
      span.waitingOn = `a retry backoff until ${formatTime(event.time + retryIn)} (attempt ${String(number)} failed${why ? `: ${why}` : ""})`;
      endAttempt(span, event.time, "failed", why);
      span.segments?.push({
        kind: "backoff",
        start: event.time,
        end: event.time + retryIn,
        status: "waiting",
        label: `retry backoff ${formatDuration(retryIn)}, until ${formatTime(event.time + retryIn)}`,
      });
      attempts.set(taskId, { start: event.time + retryIn, number: number + 1 });
    } else if (event.type === "TaskSuspended") {
      span.status = String(event.payload.status ?? "pending");
      span.waitingOn = "an answer from a person";
      span.queue = null;
      endAttempt(span, event.time, "asked", "");
      span.segments?.push({ kind: "answer", start: event.time, end: null, status: "waiting", label: "waiting for an answer" });
    } else if (event.type === "TaskCompleted") {
      span.end = event.time;
      span.status = String(event.payload.status ?? "succeeded");
      span.waitingOn = null;
      if (span.segments?.some((segment) => segment.kind === "answer" && segment.end === null)) {
        close(span, "answer", event.time, span.status, `answered: ${span.status}`);
      } else {
        endAttempt(span, event.time, span.status, errorText(event.payload.error));
      }
    } else if (event.type === "TaskCanceled") {
      span.end = event.time;
      span.status = "canceled";
      span.waitingOn = null;
      endAttempt(span, event.time, "canceled", "");
      close(span, "answer", event.time, "canceled", "");
    }
  }
  // Attempts still running: open to the end of the row.
  for (const [taskId, current] of attempts) {
    const span = spans.get(taskId);
    if (span && span.end === null && current.start <= (events[events.length - 1]?.time ?? current.start)) {
      span.segments?.push({ kind: "attempt", start: current.start, end: null, status: span.status, label: `attempt ${current.number} ${span.status}` });
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
              {span.count === 1 && span.segments && span.segments.length > 0 ? (
                span.segments.map((segment, index) => {
                  const from = ((segment.start - first) / whole) * 100;
                  const to = (((segment.end ?? last) - first) / whole) * 100;
                  const size = Math.max(to - from, 0.4);
                  return (
                    <span
                      key={index}
                      class={`bar seg seg-${segment.kind} tone-${tone(segment.status)}`}
                      data-segment={segment.kind}
                      data-status={segment.status}
                      style={{ left: `${Math.min(from, 99.6)}%`, width: `${Math.min(size, 100 - Math.min(from, 99.6))}%` }}
                      title={`${span.name}: ${segment.label}, ${formatDuration((segment.end ?? last) - segment.start)}`}
                    />
                  );
                })
              ) : (
                <span
                  class={`bar tone-${tone(span.status)}`}
                  style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
                  title={`${span.name}: ${span.status}, ${formatDuration(end - span.start)}${retries}`}
                />
              )}
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

/** What the timeline's marks mean. */
export function TimelineLegend() {
  return (
    <p class="legend hint" aria-label="timeline legend">
      <span class="key seg-attempt tone-ok" aria-hidden="true" /> an attempt (coloured by how it ended){" "}
      <span class="key seg-backoff" aria-hidden="true" /> a retry backoff{" "}
      <span class="key seg-timer" aria-hidden="true" /> a timer or delay{" "}
      <span class="key seg-answer" aria-hidden="true" /> waiting for an answer
    </p>
  );
}
