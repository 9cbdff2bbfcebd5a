/**
 * A trigger set as a graph: each trigger is a step; an edge goes from a
 * trigger to every trigger its action's events activate (an activity's end,
 * a pass, an emit, a timeout), from the workspace's start to the triggers of
 * its init event, and from outside events (a broker's, a signal's) to the
 * triggers they activate. TERMINATE and FAIL lead to the workspace's end.
 * The triggers come from the API: a DAG or a state machine on triggers is drawn
 * as the triggers it compiles to.
 */
import type { Step, Steps, Transition } from "./steps";

/** A trigger as `GET /v1/definitions/ID/document` and `GET /v1/executions/ID/triggers` give it. */
export interface TriggerDoc {
  id: string;
  activation: { subject: string; type: string }[];
  condition: string;
  action: string;
  context: Record<string, unknown>;
  transient: boolean;
  timeout?: number;
  /** Only for an execution: how many times it fired, and whether it may still. */
  fired?: number;
  enabled?: boolean;
  timed_out?: boolean;
}

const INIT = "__init__ event.triggerflow.init";
const SUCCESS = "event.triggerflow.termination.success";
const FAILURE = "event.triggerflow.termination.failure";
const TIMEOUT = "event.triggerflow.timeout";
const START = "(start)";
const SUCCEEDS = "(succeeds)";
const FAILS = "(fails)";

/** The events a trigger's action (and its timeout) make, as `subject type` keys. */
function produced(trigger: TriggerDoc): { key: string; label: string }[] {
  const context = trigger.context ?? {};
  const subject = typeof context.subject === "string" ? context.subject : trigger.id;
  const out: { key: string; label: string }[] = [];
  if (trigger.action === "INVOKE" || trigger.action === "START_WORKFLOW") {
    out.push({ key: `${subject} ${SUCCESS}`, label: "success" }, { key: `${subject} ${FAILURE}`, label: "failure" });
  } else if (trigger.action === "ASL_PASS" || trigger.action === "ASL_JOIN_END") {
    out.push({ key: `${subject} ${SUCCESS}`, label: "success" });
  }
  for (const key of ["emit", "start"]) {
    const value = context[key];
    const listed = Array.isArray(value) ? value : value ? [value] : [];
    for (const item of listed) {
      if (item && typeof item === "object" && "subject" in item && "type" in item) {
        const emitted = item as { subject: unknown; type: unknown };
        out.push({ key: `${String(emitted.subject)} ${String(emitted.type)}`, label: String(emitted.type).split(".").pop() ?? "" });
      }
    }
  }
  if (trigger.timeout !== undefined && trigger.timeout !== null) out.push({ key: `${trigger.id} ${TIMEOUT}`, label: "timeout" });
  return out;
}

/** "JOIN→TERMINATE", after how many times it fired ("3× ...") for an execution's trigger. */
function detailOf(trigger: TriggerDoc): string {
  const what = trigger.condition === "TRUE" ? trigger.action : `${trigger.condition}→${trigger.action}`;
  return trigger.fired === undefined ? what : `${trigger.fired}× ${what}`;
}

export function triggerSteps(triggers: TriggerDoc[]): Steps {
  const steps: Step[] = [];
  const transitions: Transition[] = [];
  const activatedBy = new Map<string, string[]>();
  for (const trigger of triggers) {
    steps.push({ id: trigger.id, detail: detailOf(trigger) });
    for (const pair of trigger.activation) {
      const key = `${pair.subject} ${pair.type}`;
      activatedBy.set(key, [...(activatedBy.get(key) ?? []), trigger.id]);
    }
  }
  const made = new Set<string>();
  for (const trigger of triggers) {
    for (const event of produced(trigger)) {
      made.add(event.key);
      for (const to of activatedBy.get(event.key) ?? []) transitions.push({ from: trigger.id, to, label: event.label });
    }
  }
  for (const trigger of triggers) {
    const end = trigger.action === "TERMINATE" ? SUCCEEDS : trigger.action === "FAIL" ? FAILS : null;
    if (end) {
      if (!steps.some((step) => step.id === end)) {
        steps.push({ id: end, detail: "workspace", label: end === SUCCEEDS ? "succeeds" : "fails" });
      }
      transitions.push({ from: trigger.id, to: end, label: "" });
    }
  }
  // Events no trigger makes come from outside: the start, a broker, a signal.
  for (const [key, ids] of activatedBy) {
    if (made.has(key)) continue;
    const from = key === INIT ? START : `event:${key}`;
    if (!steps.some((step) => step.id === from)) {
      const [subject, ...type] = key.split(" ");
      steps.push(
        from === START
          ? { id: START, detail: "init event", label: "start" }
          : { id: from, detail: type.join(" "), label: `event ${subject}` },
      );
    }
    for (const to of ids) transitions.push({ from, to, label: "" });
  }
  return { steps, transitions };
}

/** The status of each trigger, and of the workspace's start and end, for colouring. */
export function triggerStatuses(triggers: TriggerDoc[], executionStatus: string): Map<string, string> {
  const statuses = new Map<string, string>();
  for (const trigger of triggers) {
    if (trigger.fired === undefined) continue;
    statuses.set(
      trigger.id,
      trigger.timed_out && !trigger.fired ? "timeout" : trigger.fired > 0 ? (trigger.enabled ? "active" : "fired") : trigger.enabled ? "waiting" : "disabled",
    );
  }
  statuses.set(START, "succeeded");
  if (executionStatus === "succeeded") statuses.set(SUCCEEDS, "succeeded");
  if (executionStatus === "failed") statuses.set(FAILS, "failed");
  return statuses;
}
