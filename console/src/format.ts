/** How times, durations and statuses read on the page. */

export function formatTime(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** How long an execution has run: to its last change once final, to now while it runs. */
export function executionDuration(execution: { created_at: number; updated_at: number; final: boolean | null }): number {
  const end = execution.final ? execution.updated_at : Date.now() / 1000;
  return end - execution.created_at;
}

/** Statuses that ask a person to look (failed, waiting for an operator or an answer). */
export const ATTENTION_STATUSES = ["failed", "timeout", "stuck", "paused", "nondeterministic"];

/** The colour family of a status, shared by badges, graph nodes and the timeline. */
export function tone(status: string): string {
  const s = status.toLowerCase();
  if (["succeeded", "done", "completed", "undone", "fired"].includes(s)) return "ok";
  if (["failed", "timeout", "timed_out", "aborted", "nondeterministic", "stuck"].includes(s)) return "bad";
  if (["running", "scheduled", "started", "requested", "resuming", "doing", "undoing", "delayed", "active"].includes(s)) return "busy";
  if (["paused", "pausing", "pending", "waiting", "canceling", "retrying"].includes(s)) return "wait";
  return "idle";
}

export function preview(value: unknown, length = 80): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
