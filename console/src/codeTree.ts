/**
 * A code workflow's task tree, read from its history: each activity, child
 * workflow, timer, signal and marker is a step, with its status as history
 * tells it. A workflow decides in rounds (decisions): what it issued in a round
 * followed from what woke that round (the results, timers and signals recorded
 * in it), so those are the edges. Many steps of one name issued in one round
 * (a `map` over many items) are one step with their count.
 */
import type { HistoryEvent } from "./api";
import type { Step, Steps, Transition } from "./steps";

/** More steps of one name in one round than this are drawn as one (a fan-out). */
const GROUP_OVER = 20;
/** Timers the code interpreter starts for itself, not timers of the workflow. */
const OWN_TIMERS = ["code.stuck@", "code.unstuck@", "code.timeout:"];
const START = "(start)";
const END = "(end)";

export interface CodeTree {
  steps: Steps;
  /** Each step's status, by step id. */
  statuses: Map<string, string>;
}

/** `pkg.module.fetch_order` → `fetch_order`: the name people gave it. */
function shortName(name: string): string {
  const last = name.split(/[.:]/).pop();
  return last || name;
}

const SEVERITY = ["failed", "timeout", "canceled", "running", "retrying", "scheduled", "waiting"];

/** The status that says most about a group: a failure before anything running, before done. */
function worst(statuses: string[]): string {
  let found = statuses[0] ?? "scheduled";
  for (const status of statuses) {
    const rank = SEVERITY.indexOf(status);
    if (rank !== -1 && (SEVERITY.indexOf(found) === -1 || rank < SEVERITY.indexOf(found))) found = status;
  }
  return found;
}

export function codeTree(events: HistoryEvent[]): CodeTree {
  const steps: Step[] = [{ id: START, detail: "workflow started", label: "start" }];
  const transitions: Transition[] = [];
  const statuses = new Map<string, string>([[START, "succeeded"]]);
  /** Step of each task or timer id (a member of a group points at the group). */
  const stepOf = new Map<string, string>();
  /** Status of each member of a group, to colour the group by its worst. */
  const members = new Map<string, Map<string, string>>();
  /** What woke the current round, and what woke the last round that had anything. */
  let frontier: string[] = [START];
  let round = -1;
  let woke: string[] = [];
  // Commands of the current round, grouped by name, to draw a fan-out as one step.
  let issued = new Map<string, { detail: string; ids: string[] }>();

  const setStatus = (id: string, status: string) => {
    const step = stepOf.get(id);
    if (step === undefined) return;
    const group = members.get(step);
    // A group's colour is reckoned once at the end: a 5,000-item fan-out stays linear.
    if (group) group.set(id, status);
    else statuses.set(step, status);
  };
  const flush = () => {
    for (const [name, { detail, ids }] of issued) {
      if (ids.length > GROUP_OVER) {
        const group = `${name}@${round}`;
        steps.push({ id: group, detail: `${detail} ×${ids.length}`, label: `${shortName(name)} ×${ids.length}` });
        members.set(group, new Map(ids.map((id) => [id, "scheduled"])));
        for (const id of ids) stepOf.set(id, group);
        for (const from of frontier) transitions.push({ from, to: group, label: "" });
      } else {
        for (const id of ids) {
          steps.push({ id, detail, label: /#\d+$/.test(id) ? `${shortName(name)} ${id.slice(id.lastIndexOf("#"))}` : shortName(name) });
          stepOf.set(id, id);
          statuses.set(id, "scheduled");
          for (const from of frontier) transitions.push({ from, to: id, label: "" });
        }
      }
    }
    issued = new Map();
  };
  const issue = (id: string, name: string, detail: string) => {
    const same = issued.get(name);
    if (same) same.ids.push(id);
    else issued.set(name, { detail, ids: [id] });
  };

  for (const event of events) {
    if (event.decision !== round) {
      flush();
      round = event.decision;
      woke = [];
    }
    const payload = event.payload;
    const taskId = typeof payload.task_id === "string" ? payload.task_id : "";
    switch (event.type) {
      case "TaskScheduled":
        issue(taskId, String(payload.name || taskId), "activity");
        break;
      case "ChildStarted":
        issue(taskId, String(payload.name || payload.definition || taskId), "child workflow");
        break;
      case "TimerStarted": {
        const timer = String(payload.timer_id ?? "");
        if (OWN_TIMERS.some((prefix) => timer.startsWith(prefix))) break;
        issue(timer, `timer ${Number(payload.delay ?? 0)}s`, "timer");
        break;
      }
      case "MarkerRecorded": {
        // Markers are recorded as the workflow passes them: a leaf of this round.
        flush();
        const id = `marker#${event.seq}`;
        const kind = String(payload.kind ?? "marker");
        const details = payload.details;
        const name = kind === "code.marker" && details && typeof details === "object" ? Object.keys(details)[0] ?? kind : kind;
        steps.push({ id, detail: "marker", label: name });
        statuses.set(id, "succeeded");
        for (const from of frontier) transitions.push({ from, to: id, label: "" });
        break;
      }
      case "SignalReceived": {
        const id = `signal#${event.seq}`;
        steps.push({ id, detail: "signal", label: `signal ${String(payload.name ?? "")}` });
        statuses.set(id, "succeeded");
        for (const from of frontier) transitions.push({ from, to: id, label: "" });
        woke.push(id);
        frontier = woke;
        break;
      }
      case "TaskStarted":
        flush(); // a status of something issued earlier in this round
        setStatus(taskId, "running");
        break;
      case "TaskAttemptFailed":
        setStatus(taskId, "retrying");
        break;
      case "TaskSuspended":
        setStatus(taskId, String(payload.status ?? "waiting"));
        break;
      case "TaskCompleted":
      case "TaskCanceled":
      case "TimerFired": {
        const id = event.type === "TimerFired" ? String(payload.timer_id ?? "") : taskId;
        const step = stepOf.get(id);
        if (step === undefined) break;
        setStatus(id, event.type === "TaskCanceled" ? "canceled" : event.type === "TimerFired" ? "succeeded" : String(payload.status ?? "succeeded"));
        if (!woke.includes(step)) woke.push(step);
        frontier = woke;
        break;
      }
      case "ExecutionCompleted": {
        flush();
        steps.push({ id: END, detail: "workflow ended", label: "end" });
        statuses.set(END, String(payload.status ?? "succeeded"));
        for (const from of frontier) transitions.push({ from, to: END, label: "" });
        break;
      }
      default:
        break;
    }
  }
  flush();
  for (const [group, statusOf] of members) statuses.set(group, worst([...statusOf.values()]));
  return { steps: { steps, transitions }, statuses };
}
