/**
 * Sending an execution a named signal, and the operator requests its language
 * takes (a saga's retry-undo, mark-undone, abandon), each with who asks and why.
 */
import { useEffect, useState } from "preact/hooks";
import { type Accepted, type Execution, getJson, postJson } from "../api";
import { preview } from "../format";
import { ErrorMessage } from "./common";

/** Who the console says sent a signal or asked for a request. */
const BY = "console";

function parseObject(text: string): Record<string, unknown> {
  const value: unknown = text.trim() ? JSON.parse(text) : {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("arguments must be a JSON object");
  }
  return value as Record<string, unknown>;
}

export function OperatorRequests({ execution, onDone }: { execution: Execution; onDone: () => void }) {
  const path = `/v1/executions/${encodeURIComponent(execution.id)}`;
  const [offered, setOffered] = useState<Record<string, string>>({});
  const [request, setRequest] = useState("");
  const [args, setArgs] = useState("{}");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    getJson<{ requests: Record<string, string> }>(`${path}/requests`).then(
      (found) => {
        setOffered(found.requests);
        setRequest((current) => current || Object.keys(found.requests)[0] || "");
      },
      () => setOffered({}),
    );
  }, [path]);

  const names = Object.keys(offered);
  if (names.length === 0) return null;
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    try {
      const parsed = parseObject(args);
      if (!window.confirm(`Ask execution ${execution.id} to ${request}?`)) return;
      const answer = await postJson<Accepted>(`${path}/requests`, { request, args: parsed, by: BY, reason });
      setNotice(answer.refused ? `Refused: ${preview(answer.refused, 300)}` : `${request}: accepted, now ${answer.execution.status}`);
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form class="operator-request" onSubmit={submit} aria-labelledby="operator-request-title">
      <h3 id="operator-request-title">Operator request</h3>
      <label>
        Request
        <select value={request} onChange={(e) => setRequest((e.target as HTMLSelectElement).value)}>
          {names.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      {offered[request] && <p class="hint">{offered[request]}</p>}
      <label>
        Arguments (JSON object)
        <input type="text" class="mono" value={args} onInput={(e) => setArgs((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Reason
        <input type="text" required value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Send request</button>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorMessage error={error} />
    </form>
  );
}

export function SignalForm({ execution, onDone }: { execution: Execution; onDone: () => void }) {
  const [name, setName] = useState("");
  const [data, setData] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    try {
      const payload: unknown = data.trim() ? JSON.parse(data) : null;
      const answer = await postJson<Accepted>(`/v1/executions/${encodeURIComponent(execution.id)}/signals`, {
        name,
        data: payload,
        by: BY,
      });
      setNotice(answer.refused ? `Refused: ${preview(answer.refused, 300)}` : `Signal ${name} sent`);
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form class="signal" onSubmit={submit} aria-labelledby="signal-title">
      <h3 id="signal-title">Signal</h3>
      <label>
        Signal name
        <input type="text" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Data (JSON, optional)
        <input type="text" class="mono" value={data} onInput={(e) => setData((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Send signal</button>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorMessage error={error} />
    </form>
  );
}
