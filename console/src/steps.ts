/**
 * The steps of a definition and the transitions between them, read from its
 * source in the browser: Orquesta tasks and their `next` transitions, a state
 * machine's States with Next, Choices, Default and Catch (read by the server,
 * so YAML and JSON alike), a trigger set's triggers, a saga's stages
 * (each node of a stage follows every node of the stage before). Map and
 * Parallel states and subsagas are one step each; `innerMachines` reads the
 * states inside a Map or a Parallel's branches, to draw on demand.
 */
import { parse as parseYaml } from "yaml";
import { type TriggerDoc, triggerSteps } from "./triggerGraph";

export interface Step {
  id: string;
  /** What the step does, shown under its name (an action, a state type). */
  detail: string;
  /** The name shown, when it is not the id (a code task's short name, an event). */
  label?: string;
}

export interface Transition {
  from: string;
  to: string;
  /** The condition, when there is one (a `when`, a Choice rule, a Catch). */
  label: string;
}

export interface Steps {
  steps: Step[];
  transitions: Transition[];
}

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The steps of `source`, of language `kind`; null when the console cannot read it.
 * `document` is the server's reading of the source, when it gave one: a state
 * machine written in YAML or JSON alike, a trigger set as its compiled triggers.
 */
export function stepsOf(kind: string, source: string, document: unknown = null): Steps | null {
  try {
    if (kind === "orquesta") return orquestaSteps(parseYaml(source));
    if (kind === "states") return stateSteps(isMapping(document) ? document : parseYaml(source));
    if (kind === "saga") return sagaSteps(parseYaml(source));
    if (kind === "triggers" && isMapping(document) && Array.isArray(document.triggers)) {
      return triggerSteps(document.triggers as TriggerDoc[]);
    }
  } catch {
    return null; // a definition the server took but this reader does not: no graph
  }
  return null;
}

/** An input an Orquesta workflow declares, with its default (null when it has none). */
export interface DeclaredInput {
  name: string;
  default: unknown;
}

/** The inputs an Orquesta workflow declares (`input: [name, {name: default}]`); null when unreadable. */
export function orquestaInputs(source: string): DeclaredInput[] | null {
  try {
    const document: unknown = parseYaml(source);
    if (!isMapping(document) || !Array.isArray(document.input)) return null;
    return document.input.flatMap((entry: unknown) =>
      isMapping(entry)
        ? Object.entries(entry).map(([name, value]) => ({ name, default: value ?? null }))
        : typeof entry === "string"
          ? [{ name: entry, default: null }]
          : [],
    );
  } catch {
    return null;
  }
}

function targets(value: unknown): string[] {
  // `do` is a task name, a comma-separated list of names, or a list of them.
  const names = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  return names
    .map((name) => (isMapping(name) ? Object.keys(name)[0] : String(name)))
    .map((name) => name.trim())
    .filter(Boolean);
}

function orquestaSteps(document: unknown): Steps | null {
  if (!isMapping(document) || !isMapping(document.tasks)) return null;
  const steps: Step[] = [];
  const transitions: Transition[] = [];
  for (const [name, task] of Object.entries(document.tasks)) {
    const body = isMapping(task) ? task : {};
    const action = typeof body.action === "string" ? body.action : "";
    steps.push({ id: name, detail: body.with ? `${action} (with items)` : action });
    const next = Array.isArray(body.next) ? body.next : [];
    for (const rule of next) {
      if (!isMapping(rule)) continue;
      const when = typeof rule.when === "string" ? rule.when.replace(/^<%\s*|\s*%>$/g, "").replace(/^\{\{\s*|\s*\}\}$/g, "") : "";
      for (const to of targets(rule.do)) transitions.push({ from: name, to, label: when });
    }
  }
  const known = new Set(steps.map((step) => step.id));
  // `do: fail` / `noop` / `succeed` are engine commands, not tasks: draw them as ends.
  for (const transition of transitions) {
    if (!known.has(transition.to)) {
      known.add(transition.to);
      steps.push({ id: transition.to, detail: "(command)" });
    }
  }
  return { steps, transitions };
}

function stateSteps(document: unknown): Steps | null {
  if (!isMapping(document) || !isMapping(document.States)) return null;
  const steps: Step[] = [];
  const transitions: Transition[] = [];
  for (const [name, state] of Object.entries(document.States)) {
    const body = isMapping(state) ? state : {};
    const type = typeof body.Type === "string" ? body.Type : "";
    const branches = Array.isArray(body.Branches) ? ` (${body.Branches.length} branches)` : "";
    steps.push({ id: name, detail: `${type}${branches}` });
    if (typeof body.Next === "string") transitions.push({ from: name, to: body.Next, label: "" });
    if (typeof body.Default === "string") transitions.push({ from: name, to: body.Default, label: "default" });
    if (Array.isArray(body.Choices)) {
      body.Choices.forEach((choice, index) => {
        if (isMapping(choice) && typeof choice.Next === "string") {
          transitions.push({ from: name, to: choice.Next, label: `choice ${index + 1}` });
        }
      });
    }
    if (Array.isArray(body.Catch)) {
      for (const handler of body.Catch) {
        if (isMapping(handler) && typeof handler.Next === "string") {
          const errors = Array.isArray(handler.ErrorEquals) ? handler.ErrorEquals.join(", ") : "catch";
          transitions.push({ from: name, to: handler.Next, label: errors });
        }
      }
    }
  }
  return { steps, transitions };
}

function sagaSteps(document: unknown): Steps | null {
  if (!isMapping(document) || !Array.isArray(document.stages)) return null;
  const steps: Step[] = [];
  const transitions: Transition[] = [];
  let before: string[] = [];
  for (const stage of document.stages) {
    if (!isMapping(stage)) continue;
    const nodes = Array.isArray(stage.parallel) ? stage.parallel.filter(isMapping) : [stage];
    const names: string[] = [];
    for (const node of nodes) {
      const name = typeof node.action === "string" ? node.action : typeof node.subsaga === "string" ? node.subsaga : null;
      if (name === null) continue;
      const detail = typeof node.action === "string" ? `${String(node.do ?? "")}${node.undo ? " ↺" : ""}` : "subsaga";
      steps.push({ id: name, detail });
      names.push(name);
    }
    for (const from of before) for (const to of names) transitions.push({ from, to, label: "" });
    before = names;
  }
  return { steps, transitions };
}

/** The states inside a Map (one part) or a Parallel state (a part per branch). */
export interface InnerMachine {
  state: string;
  type: "Map" | "Parallel";
  parts: { label: string; steps: Steps }[];
}

/** The Map and Parallel states of a state machine's source, with what is inside them. */
export function innerMachines(source: string, read: unknown = null): InnerMachine[] {
  let document: unknown = read;
  if (!isMapping(document)) {
    try {
      // YAML reads JSON too: the server's reading is preferred, this is the fallback.
      document = parseYaml(source);
    } catch {
      return [];
    }
  }
  if (!isMapping(document) || !isMapping(document.States)) return [];
  const found: InnerMachine[] = [];
  for (const [name, state] of Object.entries(document.States)) {
    if (!isMapping(state)) continue;
    if (state.Type === "Map") {
      const inside = state.ItemProcessor ?? state.Iterator;
      const steps = stateSteps(inside);
      if (steps) found.push({ state: name, type: "Map", parts: [{ label: "each item", steps }] });
    } else if (state.Type === "Parallel" && Array.isArray(state.Branches)) {
      const parts = state.Branches.flatMap((branch, index) => {
        const steps = stateSteps(branch);
        return steps ? [{ label: `branch ${index + 1}`, steps }] : [];
      });
      if (parts.length) found.push({ state: name, type: "Parallel", parts });
    }
  }
  return found;
}
