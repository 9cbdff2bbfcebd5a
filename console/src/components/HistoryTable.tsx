/** An execution's history, a page at a time, each payload one click from its JSON. */
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import type { HistoryEvent } from "../api";
import { formatTime, preview } from "../format";
import { JsonView } from "./common";

const HISTORY_PAGE = 50;

export function HistoryTable({ events }: { events: HistoryEvent[] }) {
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<number | null>(null);
  const pages = Math.max(1, Math.ceil(events.length / HISTORY_PAGE));
  const shown = events.slice(page * HISTORY_PAGE, (page + 1) * HISTORY_PAGE);
  const failing = (event: HistoryEvent) =>
    Boolean(event.payload.error) || event.payload.status === "failed" || event.type === "RequestRejected";
  return (
    <div>
      <table class="history">
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Payload</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((event) => (
            <Fragment key={event.seq}>
              <tr class={failing(event) ? "failing" : undefined}>
                <td>{event.seq}</td>
                <td>{formatTime(event.time)}</td>
                <td>{event.type}</td>
                <td>
                  <button
                    type="button"
                    class="link"
                    aria-expanded={open === event.seq}
                    onClick={() => setOpen(open === event.seq ? null : event.seq)}
                  >
                    {preview(event.payload, 70) || "(empty)"}
                  </button>
                </td>
              </tr>
              {open === event.seq && (
                <tr class="payload">
                  <td colSpan={4}>
                    <JsonView value={event.payload} label={`payload of event ${event.seq}`} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="history pages">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
          Earlier
        </button>
        <span>
          Page {page + 1} of {pages} ({events.length} events)
        </span>
        <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
          Later
        </button>
      </nav>
    </div>
  );
}
