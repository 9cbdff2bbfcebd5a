/** A page of executions as a table: id, status, definition, kind, times, tags. */
import type { Execution } from "../api";
import { executionDuration, formatDuration, formatTime } from "../format";
import { StatusBadge } from "./common";

export function ExecutionTable({
  executions,
  tagHref,
  caption = "Executions, newest first",
}: {
  executions: Execution[];
  tagHref: (tag: string) => string;
  caption?: string;
}) {
  if (executions.length === 0) return <p class="empty">No execution matches.</p>;
  return (
    <table class="executions">
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Execution</th>
          <th scope="col">Status</th>
          <th scope="col">Definition</th>
          <th scope="col">Kind</th>
          <th scope="col">Started</th>
          <th scope="col">Duration</th>
          <th scope="col">Tags</th>
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
            <td class="tags">
              {(execution.tags ?? []).map((tag) => (
                <a key={tag} class="tag" href={tagHref(tag)}>
                  {tag}
                </a>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
