/** Small pieces every page uses: status badges, JSON, errors, confirmation. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { tone } from "../format";

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge tone-${tone(status)}`}>{status}</span>;
}

/** Longest text shown before a payload is cut (the rest one click away). */
const SHOWN_CHARACTERS = 4000;

/** A JSON value, pretty-printed; a large one is cut, with a button for the rest. */
export function JsonView({ value, label }: { value: unknown; label?: string }) {
  const [whole, setWhole] = useState(false);
  const text = value === undefined ? "" : JSON.stringify(value, null, 2);
  const cut = !whole && text.length > SHOWN_CHARACTERS;
  return (
    <div class="json">
      <pre aria-label={label} tabIndex={0}>
        {cut ? `${text.slice(0, SHOWN_CHARACTERS)}\n…` : text}
      </pre>
      {cut && (
        <button type="button" class="link" onClick={() => setWhole(true)}>
          Show all {text.length.toLocaleString()} characters
        </button>
      )}
    </div>
  );
}

/** An error of the API (or anything thrown), as the API phrased it. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  return (
    <div class="error" role="alert">
      {api ? <strong>{api.code}</strong> : null} {error instanceof Error ? error.message : String(error)}
      {api?.details ? <JsonView value={api.details} label="error details" /> : null}
    </div>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="panel" aria-labelledby={id ? `${id}-title` : undefined} id={id}>
      <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
      {children}
    </section>
  );
}
