/**
 * The executions list: filters, cursor paging, counts by status, live updates,
 * and the "needs attention" view (the same list, filtered to statuses that ask
 * a person to look).
 */
import { useEffect, useState } from "preact/hooks";
import { countsByStatus, type Execution, type ExecutionList, getJson, query } from "../api";
import { ErrorMessage, StatusBadge } from "../components/common";
import { ATTENTION_STATUSES, executionDuration, formatDuration, formatTime } from "../format";
import { navigate } from "../router";

/** How often the list asks the API again while the tab is visible (see docs/how-to/console.md). */
const REFRESH_MS = 5000;
const PAGE_SIZE = 50;
const KINDS = ["orquesta", "states", "code", "saga", "triggers"];

interface Filters {
  status: string[];
  kind: string[];
  definition_id: string;
  since: string; // datetime-local values, in the browser's time zone
  until: string;
}

function filtersFrom(search: string, attention: boolean): Filters {
  const params = new URLSearchParams(search);
  const status = params.getAll("status");
  return {
    status: status.length || !attention ? status : ATTENTION_STATUSES,
    kind: params.getAll("kind"),
    definition_id: params.get("definition_id") ?? "",
    since: params.get("since") ?? "",
    until: params.get("until") ?? "",
  };
}

function epoch(local: string): number | null {
  if (!local) return null;
  const time = new Date(local).getTime();
  return Number.isNaN(time) ? null : time / 1000;
}

export function ExecutionsPage({ attention, search }: { attention: boolean; search: string }) {
  const filters = filtersFrom(search, attention);
  const [draft, setDraft] = useState<Filters>(filters);
  // The cursors of the pages before this one, to go back; null is the first page.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<ExecutionList | null>(null);
  const [counts, setCounts] = useState<Map<string, number> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const cursor = cursors[cursors.length - 1];
  const key = `${attention}|${search}|${cursor}`;

  useEffect(() => {
    setDraft(filtersFrom(search, attention));
    setCursors([null]);
  }, [search, attention]);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const controller = new AbortController();
    const load = async () => {
      try {
        const listed = await getJson<ExecutionList>(
          `/v1/executions${query({
            status: filters.status,
            kind: filters.kind,
            definition_id: filters.definition_id,
            since: epoch(filters.since),
            until: epoch(filters.until),
            limit: PAGE_SIZE,
            cursor,
          })}`,
          controller.signal,
        );
        if (stopped) return;
        setPage(listed);
        setError(null);
        setUpdatedAt(new Date());
        // Counts are a convenience: a server without /metrics still lists.
        countsByStatus(filters.kind).then(
          (found) => !stopped && setCounts(found),
          () => !stopped && setCounts(null),
        );
      } catch (failure) {
        if (!stopped && !(failure instanceof DOMException && failure.name === "AbortError")) setError(failure);
      }
      if (!stopped) timer = window.setTimeout(tick, REFRESH_MS);
    };
    // A hidden tab asks nothing; it catches up when shown again.
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
  }, [key]);

  const apply = (event: Event) => {
    event.preventDefault();
    const base = attention ? "/attention" : "/";
    navigate(
      `${base}${query({
        status: draft.status,
        kind: draft.kind,
        definition_id: draft.definition_id,
        since: draft.since,
        until: draft.until,
      })}`,
    );
  };

  const toggle = (list: string[], value: string) =>
    list.includes(value) ? list.filter((item) => item !== value) : [...list, value];

  const statuses = [...new Set([...ATTENTION_STATUSES, "running", "succeeded", "canceled", ...(counts?.keys() ?? [])])];

  return (
    <div>
      <h1>{attention ? "Needs attention" : "Executions"}</h1>
      {attention && (
        <p class="hint">
          Executions that failed, timed out, or wait for a person or an operator ({ATTENTION_STATUSES.join(", ")}).
        </p>
      )}
      {counts && (
        <ul class="counts" aria-label="executions by status">
          {[...counts.entries()]
            .filter(([, n]) => n > 0)
            .sort()
            .map(([status, n]) => (
              <li key={status}>
                <a href={`${attention ? "/attention" : "/"}${query({ status, kind: filters.kind })}`}>
                  <StatusBadge status={status} /> <span class="count">{n.toLocaleString()}</span>
                </a>
              </li>
            ))}
        </ul>
      )}
      <form class="filters" onSubmit={apply} aria-label="filters">
        <fieldset>
          <legend>Status</legend>
          {statuses.map((status) => (
            <label key={status} class="check">
              <input
                type="checkbox"
                name="status"
                value={status}
                checked={draft.status.includes(status)}
                onChange={() => setDraft({ ...draft, status: toggle(draft.status, status) })}
              />
              {status}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Kind</legend>
          {KINDS.map((kind) => (
            <label key={kind} class="check">
              <input
                type="checkbox"
                name="kind"
                value={kind}
                checked={draft.kind.includes(kind)}
                onChange={() => setDraft({ ...draft, kind: toggle(draft.kind, kind) })}
              />
              {kind}
            </label>
          ))}
        </fieldset>
        <label>
          Definition id
          <input
            type="text"
            name="definition_id"
            value={draft.definition_id}
            onInput={(e) => setDraft({ ...draft, definition_id: (e.target as HTMLInputElement).value.trim() })}
          />
        </label>
        <label>
          Started from
          <input
            type="datetime-local"
            name="since"
            value={draft.since}
            onInput={(e) => setDraft({ ...draft, since: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Started before
          <input
            type="datetime-local"
            name="until"
            value={draft.until}
            onInput={(e) => setDraft({ ...draft, until: (e.target as HTMLInputElement).value })}
          />
        </label>
        <div class="buttons">
          <button type="submit">Apply filters</button>
          <button type="button" onClick={() => navigate(attention ? "/attention" : "/")}>
            Clear
          </button>
        </div>
      </form>
      <OpenById />
      <ErrorMessage error={error} />
      <p class="hint" aria-live="polite">
        {updatedAt ? `Updated ${updatedAt.toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.` : "Loading…"}
      </p>
      {page && <ExecutionTable executions={page.executions} />}
      <nav class="pager" aria-label="pages">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          disabled={!page?.next_cursor}
          onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
        >
          Older
        </button>
      </nav>
    </div>
  );
}

/** Jump to an execution by its id (the API has no text search over executions). */
function OpenById() {
  const [id, setId] = useState("");
  return (
    <form
      class="open-by-id"
      onSubmit={(event) => {
        event.preventDefault();
        if (id.trim()) navigate(`/executions/${encodeURIComponent(id.trim())}`);
      }}
    >
      <label>
        Execution id
        <input type="text" class="mono" size={38} value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Open</button>
    </form>
  );
}

function ExecutionTable({ executions }: { executions: Execution[] }) {
  if (executions.length === 0) return <p class="empty">No execution matches.</p>;
  return (
    <table class="executions">
      <caption class="visually-hidden">Executions, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Execution</th>
          <th scope="col">Status</th>
          <th scope="col">Definition</th>
          <th scope="col">Kind</th>
          <th scope="col">Started</th>
          <th scope="col">Duration</th>
        </tr>
      </thead>
      <tbody>
        {executions.map((execution) => (
          <tr key={execution.id} data-execution={execution.id}>
            <td>
              <a href={`/executions/${encodeURIComponent(execution.id)}`} class="mono">
                {execution.id.slice(0, 8)}
              </a>
            </td>
            <td>
              <StatusBadge status={execution.status} />
            </td>
            <td>
              <a href={`/definitions/${encodeURIComponent(execution.definition_id)}`}>{execution.name || "(unnamed)"}</a>
            </td>
            <td>{execution.kind}</td>
            <td>{formatTime(execution.created_at)}</td>
            <td>{formatDuration(executionDuration(execution))}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
