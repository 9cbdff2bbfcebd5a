/**
 * What else needs a person beyond statuses, on the "needs attention" page:
 * executions with no progress for longer than a threshold, tasks whose lease
 * expired more than once (a worker keeps dying on them), and queues with
 * waiting tasks that no worker of the store has polled lately.
 */
import { useEffect, useState } from "preact/hooks";
import { type ExecutionCounts, type ExecutionList, getPolled, type LostLease, type QueueList, query } from "../api";
import { ErrorMessage, Section } from "../components/common";
import { ExecutionTable } from "../components/ExecutionTable";
import { formatTime } from "../format";

const REFRESH_MS = 5000;
const DEFAULT_STALLED_MINUTES = 15;
const SHOWN = 50;

interface Found {
  stalled: ExecutionList;
  stalledCount: ExecutionCounts;
  lost: LostLease[];
  queues: QueueList;
}

export function AttentionExtras() {
  const [minutes, setMinutes] = useState(DEFAULT_STALLED_MINUTES);
  const [draft, setDraft] = useState(String(DEFAULT_STALLED_MINUTES));
  const [found, setFound] = useState<Found | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const controller = new AbortController();
    const stalledFor = { stalled_for: minutes * 60 };
    const load = async () => {
      try {
        const [stalled, stalledCount, lost, queues] = await Promise.all([
          getPolled<ExecutionList>(`/v1/executions${query({ ...stalledFor, limit: SHOWN })}`, controller.signal),
          getPolled<ExecutionCounts>(`/v1/executions/counts${query(stalledFor)}`, controller.signal),
          getPolled<{ tasks: LostLease[] }>("/v1/tasks/lost-leases", controller.signal),
          getPolled<QueueList>("/v1/queues", controller.signal),
        ]);
        if (stopped) return;
        setFound({ stalled, stalledCount, lost: lost.tasks, queues });
        setError(null);
      } catch (failure) {
        if (!stopped && !(failure instanceof DOMException && failure.name === "AbortError")) setError(failure);
      }
      if (!stopped) timer = window.setTimeout(tick, REFRESH_MS);
    };
    const tick = () => {
      if (document.visibilityState === "visible") void load();
      else timer = window.setTimeout(tick, REFRESH_MS);
    };
    void load();
    return () => {
      stopped = true;
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [minutes]);

  const unpolled = found?.queues.queues.filter((queue) => (queue.tasks.scheduled ?? 0) > 0 && !queue.polled_recently) ?? [];
  return (
    <div class="attention-extras">
      <ErrorMessage error={error} />
      <Section title="No progress for a while" id="stalled">
        <form
          class="inline"
          onSubmit={(event) => {
            event.preventDefault();
            const value = Number(draft);
            if (Number.isFinite(value) && value >= 0) setMinutes(value);
          }}
        >
          <label>
            Not final, and nothing recorded for more than (minutes)
            <input
              type="number"
              name="stalled_minutes"
              min={0}
              step="any"
              value={draft}
              onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit">Show</button>
        </form>
        {found && (
          <>
            <p class="hint">
              {found.stalledCount.total.toLocaleString()} execution(s)
              {found.stalledCount.total > SHOWN ? `; the ${SHOWN} newest are shown` : ""}. A long timer or a
              slow task is no fault: look at what each waits on.
            </p>
            <ExecutionTable
              executions={found.stalled.executions}
              tagHref={(tag) => `/${query({ tag })}`}
              caption={`Executions with no progress for more than ${minutes} minutes`}
            />
          </>
        )}
      </Section>
      <Section title="Leases lost more than once" id="lost-leases">
        {found && found.lost.length === 0 && <p class="empty">No task of a running execution lost its lease twice.</p>}
        {found && found.lost.length > 0 && (
          <table class="lost-leases">
            <caption class="visually-hidden">Tasks whose lease expired more than once</caption>
            <thead>
              <tr>
                <th scope="col">Execution</th>
                <th scope="col">Task</th>
                <th scope="col">Queue</th>
                <th scope="col">Leases lost</th>
                <th scope="col">Last lost</th>
              </tr>
            </thead>
            <tbody>
              {found.lost.map((task) => (
                <tr key={`${task.execution_id}/${task.task_id}`} data-execution={task.execution_id} data-task={task.task_id}>
                  <td>
                    <a class="mono" href={`/executions/${encodeURIComponent(task.execution_id)}`}>
                      {task.execution_id.slice(0, 8)}
                    </a>
                  </td>
                  <td>{task.name ?? task.task_id}</td>
                  <td>{task.queue ?? ""}</td>
                  <td>{task.lost}</td>
                  <td>{formatTime(task.last_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Queues nobody polls" id="queues">
        {found && unpolled.length === 0 && (
          <p class="empty">Every queue with waiting tasks was polled in the last {found.queues.recent} s.</p>
        )}
        {unpolled.length > 0 && (
          <table class="queues">
            <caption class="visually-hidden">Queues with waiting tasks and no recent poll</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Waiting tasks</th>
                <th scope="col">Last polled</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {unpolled.map((queue) => (
                <tr key={queue.queue} data-queue={queue.queue}>
                  <td class="mono">{queue.queue}</td>
                  <td>{queue.tasks.scheduled}</td>
                  <td>{queue.last_poll === null ? "not in the last day" : formatTime(queue.last_poll)}</td>
                  <td>{queue.pollers[0]?.description ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p class="hint">
          Polls of every worker of the store: <code>cadenza worker</code> processes and servers' loops record
          theirs every few seconds; HTTP workers are seen through the server they claim from.
        </p>
      </Section>
    </div>
  );
}
