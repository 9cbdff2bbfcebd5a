/**
 * One execution: its status, output and errors, what it can be asked to do,
 * the tasks waiting for an answer, the definition's graph coloured by task
 * status, a timeline and the paged history.
 */
import { useEffect, useState } from "preact/hooks";
import {
  type Accepted,
  type Definition,
  type Execution,
  getJson,
  getPolled,
  type HistoryEvent,
  loadDefinition,
  type HistoryPage,
  postJson,
  type Queue,
  type QueueList,
  query,
  type Task,
} from "../api";
import { ErrorMessage, JsonView, Section, StatusBadge } from "../components/common";
import { GraphOf } from "../components/ExecutionGraph";
import { HistoryTable } from "../components/HistoryTable";
import { OperatorRequests, SignalForm } from "../components/Requests";
import { formFits, JsonEditor, SchemaForm } from "../components/SchemaForm";
import { type Span, spansOf, Timeline, TimelineLegend } from "../components/Timeline";
import { executionDuration, formatDuration, formatTime, preview } from "../format";
import { type MapCounts, mapCounts, type SfnEvent, stateSpans, stateStatuses } from "../stateMachine";
import type { TriggerDoc } from "../triggerGraph";

/** Longest a history long poll waits (the API takes at most 30 s). */
const LONG_POLL_SECONDS = 25;
/** Tasks listed at once; the rest are a click away (a fan-out may have thousands). */
const TASKS_SHOWN = 200;
/** Task statuses that mean the task waits for an answer from a person. */
const WAITING_FOR_ANSWER = ["pending", "waiting"];

interface Loaded {
  execution: Execution;
  tasks: Task[];
  events: HistoryEvent[];
  /** What ran when: tasks from history, or a state machine's states from its `sfn` view. */
  spans: Span[];
  /** Each step's status, by the name the definition gives it. */
  statuses: Map<string, string>;
  /** The worker queues, when a task waits on one: whether anyone polls them. */
  queues: Map<string, Queue>;
  /** A state machine's Map states: how their iterations went. */
  maps: Map<string, MapCounts>;
  /** A trigger workspace's triggers, with how many times each fired. */
  triggers: TriggerDoc[] | null;
}

/** Why a task waits, with whether a worker polled its queue lately when it waits for one. */
function reasonOf(span: Span | undefined, queues: Map<string, Queue>): string {
  if (!span) return "";
  const reason = span.waitingOn ?? "";
  if (!span.queue) return reason;
  const queue = queues.get(span.queue);
  if (!queue) return reason;
  const latest = queue.pollers[0];
  const by = latest ? ` by ${latest.description}` : "";
  if (queue.polled_recently && queue.last_poll !== null) {
    return `${reason} (queue ${span.queue} last polled ${formatTime(queue.last_poll)}${by})`;
  }
  return `${reason} (no worker polled queue ${span.queue} lately${
    queue.last_poll === null ? "" : `; last at ${formatTime(queue.last_poll)}${by}`
  })`;
}

export function ExecutionPage({ id }: { id: string }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [definition, setDefinition] = useState<Definition | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);
  const [tasksShown, setTasksShown] = useState(TASKS_SHOWN);
  const path = `/v1/executions/${encodeURIComponent(id)}`;

  // Load everything, then wait on the history's long poll for the next event:
  // the page follows the execution as it runs without asking every second.
  useEffect(() => {
    let stopped = false;
    const controller = new AbortController();
    const readHistory = async (after: number): Promise<HistoryEvent[]> => {
      let fresh: HistoryEvent[] = [];
      for (let next: number | null = after; next !== null; ) {
        const page: HistoryPage = await getJson<HistoryPage>(
          `${path}/history${query({ after_seq: next, limit: 10000 })}`,
          controller.signal,
        );
        fresh = fresh.concat(page.events);
        next = page.next_after_seq;
      }
      return fresh;
    };
    const follow = async () => {
      let events: HistoryEvent[] = [];
      let tasks: Task[] = [];
      let queues = new Map<string, Queue>();
      let definitionWanted = true;
      let endShown = false;
      while (!stopped) {
        try {
          // The tasks answer is the slowest for a large fan-out: ask for it first, show
          // the history as soon as it is here, and the tasks when they come.
          const tasksAnswer = getPolled<{ tasks: Task[] }>(`${path}/tasks`, controller.signal);
          tasksAnswer.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
          const executionAnswer = getPolled<Execution>(path, controller.signal);
          // A state machine's view is as long as its history: ask for both at once.
          const sfnAnswer = executionAnswer.then((found) =>
            found.kind === "states" ? getJson<SfnEvent[]>(`${path}/views/sfn`, controller.signal) : null,
          );
          sfnAnswer.catch(() => undefined); // awaited below
          // A workspace's triggers and their fire counts: its graph. A convenience, not a must.
          const triggersAnswer = executionAnswer.then((found) =>
            found.kind === "triggers" ? getJson<TriggerDoc[]>(`${path}/triggers`, controller.signal).catch(() => null) : null,
          );
          const historyAnswer = readHistory(events.length ? events[events.length - 1].seq : 0);
          historyAnswer.catch(() => undefined); // awaited below
          const execution = await executionAnswer;
          if (definitionWanted) {
            // The graph needs the definition: ask for it now, not once the rest is here.
            definitionWanted = false;
            loadDefinition(execution.definition_id, execution.kind).then(
              (found) => !stopped && setDefinition(found),
              () => !stopped && setDefinition(null),
            );
          }
          let spans: Span[] = [];
          let seen = new Map<string, string>();
          let maps = new Map<string, MapCounts>();
          const triggers = await triggersAnswer;
          const show = (known: Task[]) => {
            const byTask = new Map(known.map((task) => [task.name, task.status]));
            // A state machine's view knows every state; otherwise the language's own
            // task statuses are the word, and history fills in until they come.
            const statuses = execution.kind === "states" ? new Map([...byTask, ...seen]) : new Map([...seen, ...byTask]);
            setLoaded({ execution, tasks: known, events, spans, statuses, queues, maps, triggers });
          };
          if (execution.kind === "states") {
            // Pass, Choice and Wait states are no tasks: the Step Functions view has them all,
            // and it draws the graph and the timeline while the history still comes.
            const sfn = (await sfnAnswer) ?? [];
            spans = stateSpans(sfn);
            seen = stateStatuses(spans);
            maps = mapCounts(sfn);
            if (stopped) return;
            show(tasks);
          }
          events = events.concat(await historyAnswer);
          if (execution.kind !== "states") {
            spans = spansOf(events);
            seen = stateStatuses(spans);
          }
          if (!execution.final && spans.some((span) => span.end === null && span.queue)) {
            // Whether anyone polls the queues its tasks wait on; a convenience, not a must.
            const listed = await getPolled<QueueList>("/v1/queues", controller.signal).catch(() => null);
            queues = new Map((listed?.queues ?? []).map((queue) => [queue.queue, queue]));
          }
          if (stopped) return;
          show(tasks);
          tasks = (await tasksAnswer).tasks;
          if (stopped) return;
          show(tasks);
          setError(null);
          if (execution.final) {
            // The tasks and the history were asked for before the execution, so they
            // may show it a moment before its end: one more pass, asked after it
            // ended, shows the end. Then nothing more will happen.
            if (endShown) return;
            endShown = true;
            continue;
          }
          const last = events.length ? events[events.length - 1].seq : 0;
          await getJson<HistoryPage>(
            `${path}/history${query({ after_seq: last, limit: 1, wait: LONG_POLL_SECONDS })}`,
            controller.signal,
          );
        } catch (failure) {
          if (stopped || (failure instanceof DOMException && failure.name === "AbortError")) return;
          setError(failure);
          // The server may be restarting: try again a little later.
          await new Promise((resolve) => setTimeout(resolve, 3000));
        }
      }
    };
    void follow();
    return () => {
      stopped = true;
      controller.abort();
    };
  }, [id, generation]);

  if (!loaded) return error ? <ErrorMessage error={error} /> : <p>Loading…</p>;
  const { execution, tasks, events, spans, statuses, queues, maps, triggers } = loaded;
  const end = execution.final && events.length ? events[events.length - 1].time : null;
  // What each open task waits on, by name (its latest span).
  const openSpans = new Map(spans.filter((span) => span.end === null).map((span) => [span.name, span]));
  return (
    <div>
      <h1>
        {execution.name || "Execution"} <StatusBadge status={execution.status} />
      </h1>
      <dl class="facts">
        <dt>Id</dt>
        <dd class="mono">{execution.id}</dd>
        <dt>Kind</dt>
        <dd>{execution.kind}</dd>
        <dt>Definition</dt>
        <dd>
          <a href={`/definitions/${encodeURIComponent(execution.definition_id)}`} class="mono">
            {execution.definition_id.slice(0, 12)}
          </a>
        </dd>
        <dt>Started</dt>
        <dd>{formatTime(execution.created_at)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(executionDuration(execution))}</dd>
        <dt>State</dt>
        <dd>{execution.final ? "final" : execution.settled ? "waiting for an operator or a person" : "in progress"}</dd>
      </dl>
      <ErrorMessage error={error} />
      <Actions execution={execution} onDone={() => setGeneration(generation + 1)} />
      {execution.errors.length > 0 && (
        <Section title="Errors" id="errors">
          <div class="errors-box" role="region" aria-label="execution errors">
            <JsonView value={execution.errors} label="errors" />
          </div>
        </Section>
      )}
      <PendingAnswers
        execution={execution}
        tasks={tasks}
        events={events}
        onDone={() => setGeneration(generation + 1)}
      />
      {execution.output !== null && execution.output !== undefined && (
        <Section title="Output" id="output">
          <JsonView value={execution.output} label="output" />
        </Section>
      )}
      <Section title="Graph" id="graph">
        <GraphOf
          kind={execution.kind}
          definition={definition}
          statuses={statuses}
          maps={maps}
          events={events}
          triggers={triggers}
          executionStatus={execution.status}
        />
      </Section>
      <Section title="Timeline" id="timeline">
        <Timeline spans={spans} end={end} />
        {execution.kind !== "states" && spans.length > 0 && <TimelineLegend />}
      </Section>
      <Section title="Tasks" id="tasks">
        {tasks.length === 0 ? (
          <p class="empty">No task yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Key</th>
                <th scope="col">Status</th>
                <th scope="col">Waiting on</th>
              </tr>
            </thead>
            <tbody>
              {tasks.slice(0, tasksShown).map((task) => (
                <tr key={`${task.name}/${task.key}`} data-task={task.name}>
                  <td>{task.name}</td>
                  <td class="mono">{task.key}</td>
                  <td>
                    <StatusBadge status={task.status} />
                  </td>
                  <td>{execution.final ? "" : reasonOf(openSpans.get(task.name), queues)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {tasks.length > tasksShown && (
          <button type="button" class="link" onClick={() => setTasksShown(tasksShown + TASKS_SHOWN)}>
            Show more tasks ({tasks.length - tasksShown} not shown)
          </button>
        )}
      </Section>
      <Section title="History" id="history">
        <HistoryTable events={events} />
      </Section>
    </div>
  );
}

function Actions({ execution, onDone }: { execution: Execution; onDone: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [steps, setSteps] = useState("");
  const [newInput, setNewInput] = useState("");
  const path = `/v1/executions/${encodeURIComponent(execution.id)}`;

  const act = async (verb: string, body: unknown, confirmation: string | null) => {
    if (confirmation && !window.confirm(confirmation)) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const answer = await postJson<Accepted>(`${path}/${verb}`, body);
      setNotice(answer.refused ? `Refused: ${preview(answer.refused, 300)}` : `${verb}: accepted, now ${answer.execution.status}`);
      onDone();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const rerunSteps = steps
    .split(",")
    .map((step) => step.trim())
    .filter(Boolean);
  return (
    <section class="panel actions" aria-labelledby="actions-title">
      <h2 id="actions-title">Act</h2>
      {!execution.final && (
        <div class="buttons">
          <button type="button" disabled={busy} onClick={() => act("pause", {}, null)}>
            Pause
          </button>
          <button type="button" disabled={busy} onClick={() => act("resume", {}, null)}>
            Resume
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => act("cancel", {}, `Cancel execution ${execution.id}? Running tasks finish, nothing new starts.`)}
          >
            Cancel
          </button>
        </div>
      )}
      {execution.final && (
        <form
          class="rerun"
          onSubmit={(event) => {
            event.preventDefault();
            const options: Record<string, unknown> = {};
            if (execution.kind === "code" && newInput.trim()) {
              try {
                options.input = JSON.parse(newInput);
              } catch (failure) {
                setError(new Error(`The new input is not JSON: ${(failure as Error).message}`));
                return;
              }
            }
            void act(
              "rerun",
              { steps: rerunSteps, options },
              `Run execution ${execution.id} again${rerunSteps.length ? ` from ${rerunSteps.join(", ")}` : " from what failed"}?`,
            );
          }}
        >
          {(execution.kind === "orquesta" || execution.kind === "code") && (
            <label>
              {execution.kind === "code"
                ? "Rerun from activities (task ids, comma-separated; empty: the failed ones)"
                : "Rerun from tasks (comma-separated; empty: the failed ones)"}
              <input type="text" value={steps} onInput={(e) => setSteps((e.target as HTMLInputElement).value)} />
            </label>
          )}
          {execution.kind === "code" && (
            <label>
              New input for that one activity (JSON: an object gives keyword arguments, a list positional ones; empty: as before)
              <input
                type="text"
                class="rerun-input"
                value={newInput}
                onInput={(e) => setNewInput((e.target as HTMLInputElement).value)}
              />
            </label>
          )}
          <button type="submit" disabled={busy}>
            {execution.kind === "states" ? "Redrive" : "Rerun"}
          </button>
        </form>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorMessage error={error} />
      <div class="more-requests">
        {!execution.final && <SignalForm execution={execution} onDone={onDone} />}
        <OperatorRequests execution={execution} onDone={onDone} />
      </div>
    </section>
  );
}

/** The schema a waiting task asked with: the `schema` of its scheduled input, if any. */
function schemaOf(task: Task, events: HistoryEvent[]): unknown {
  for (let index = events.length - 1; index >= 0; index -= 1) {
    const event = events[index];
    if (event.type !== "TaskScheduled") continue;
    if (event.payload.task_id !== task.key && event.payload.name !== task.name) continue;
    const input = event.payload.input;
    if (typeof input === "object" && input !== null && "schema" in input) return (input as { schema: unknown }).schema;
    return null;
  }
  return null;
}

function PendingAnswers({
  execution,
  tasks,
  events,
  onDone,
}: {
  execution: Execution;
  tasks: Task[];
  events: HistoryEvent[];
  onDone: () => void;
}) {
  const waiting = execution.final ? [] : tasks.filter((task) => WAITING_FOR_ANSWER.includes(task.status));
  const [error, setError] = useState<unknown>(null);
  if (waiting.length === 0) return null;
  const answer = async (task: Task, result: unknown, failed: boolean) => {
    setError(null);
    try {
      await postJson<Accepted>(
        `/v1/executions/${encodeURIComponent(execution.id)}/tasks/${encodeURIComponent(task.name)}/answer`,
        { result, failed },
      );
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <Section title="Waiting for an answer" id="answers">
      {waiting.map((task) => {
        const schema = schemaOf(task, events);
        const prefix = `answer-${task.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
        return (
          <div class="pending" key={task.key} data-task={task.name}>
            <h3>{task.name}</h3>
            {schema ? (
              <details>
                <summary>What it asks for (JSON schema)</summary>
                <JsonView value={schema} label={`what ${task.name} asks for`} />
              </details>
            ) : null}
            {formFits(schema) ? (
              <SchemaForm schema={schema} idPrefix={prefix} submitLabel={`Answer ${task.name}`} onSubmit={(value) => answer(task, value, false)} />
            ) : (
              <JsonEditor id={`${prefix}-json`} label={`Answer to ${task.name} (JSON)`} initial="{}" submitLabel={`Answer ${task.name}`} onSubmit={(value) => answer(task, value, false)} />
            )}
            <button
              type="button"
              class="danger"
              onClick={() => window.confirm(`Fail task ${task.name}?`) && void answer(task, null, true)}
            >
              Fail {task.name}
            </button>
          </div>
        );
      })}
      <ErrorMessage error={error} />
    </Section>
  );
}
