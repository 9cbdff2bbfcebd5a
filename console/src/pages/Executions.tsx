/**
 * The executions list: filters (status, kind, definition, time, text in the id
 * or name, tags), cursor paging, counts by status from the API, live updates
 * by polling with ETags, and the "needs attention" view (the same list,
 * filtered to statuses that ask a person to look, with what else is stuck).
 */
import { useEffect, useState } from "preact/hooks";
import { type ExecutionCounts, type ExecutionList, getPolled, query } from "../api";
import { ErrorMessage, StatusBadge } from "../components/common";
import { ExecutionTable } from "../components/ExecutionTable";
import { ATTENTION_STATUSES } from "../format";
import { navigate } from "../router";
import { AttentionExtras } from "./Attention";

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
  q: string;
  tag: string[];
}

/** Tags as typed: separated by commas (a tag may hold spaces inside). */
function tagsFrom(text: string): string[] {
  return text
    .split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
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
    q: params.get("q") ?? "",
    tag: params.getAll("tag"),
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
  const [counts, setCounts] = useState<ExecutionCounts | null>(null);
  const [tagText, setTagText] = useState(filters.tag.join(", "));
  const [error, setError] = useState<unknown>(null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const cursor = cursors[cursors.length - 1];
  const key = `${attention}|${search}|${cursor}`;

  useEffect(() => {
    setDraft(filtersFrom(search, attention));
    setTagText(filtersFrom(search, attention).tag.join(", "));
    setCursors([null]);
  }, [search, attention]);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const controller = new AbortController();
    // Counts leave the status filter out: they show how many there are of every status.
    const common = {
      kind: filters.kind,
      definition_id: filters.definition_id,
      since: epoch(filters.since),
      until: epoch(filters.until),
      q: filters.q,
      tag: filters.tag,
    };
    const load = async () => {
      try {
        // Polled with ETags: an unchanged answer is a 304 and the very object
        // held already, so nothing re-renders.
        const [listed, counted] = await Promise.all([
          getPolled<ExecutionList>(
            `/v1/executions${query({ status: filters.status, ...common, limit: PAGE_SIZE, cursor })}`,
            controller.signal,
          ),
          getPolled<ExecutionCounts>(`/v1/executions/counts${query(common)}`, controller.signal),
        ]);
        if (stopped) return;
        setPage(listed);
        setCounts(counted);
        setError(null);
        setUpdatedAt(new Date());
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
        q: draft.q.trim(),
        tag: tagsFrom(tagText),
      })}`,
    );
  };

  const toggle = (list: string[], value: string) =>
    list.includes(value) ? list.filter((item) => item !== value) : [...list, value];

  const counted = Object.entries(counts?.counts ?? {});
  const statuses = [...new Set([...ATTENTION_STATUSES, "running", "succeeded", "canceled", ...counted.map(([status]) => status)])];
  const keep = { kind: filters.kind, definition_id: filters.definition_id, q: filters.q, tag: filters.tag };

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
          {counted.sort().map(([status, n]) => (
            <li key={status}>
              <a href={`${attention ? "/attention" : "/"}${query({ status, ...keep })}`}>
                <StatusBadge status={status} /> <span class="count">{n.toLocaleString()}</span>
              </a>
            </li>
          ))}
          <li class="total">
            {counts.total.toLocaleString()} matching{filters.status.length ? " (any status)" : ""}
          </li>
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
          Search
          <input
            type="search"
            name="q"
            placeholder="id or name"
            maxLength={200}
            value={draft.q}
            onInput={(e) => setDraft({ ...draft, q: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Tags
          <input
            type="text"
            name="tag"
            placeholder="team=billing, nightly"
            aria-describedby="tags-hint"
            value={tagText}
            onInput={(e) => setTagText((e.target as HTMLInputElement).value)}
          />
          <span id="tags-hint" class="hint">
            comma-separated; every one must match whole
          </span>
        </label>
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
      {page && <ExecutionTable executions={page.executions} tagHref={(tag) => `${attention ? "/attention" : "/"}${query({ tag })}`} />}
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
      {attention && <AttentionExtras />}
    </div>
  );
}

/** Jump straight to an execution whose whole id is known (the search finds parts of one). */
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
