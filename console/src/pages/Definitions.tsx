/** Definitions: the list, one definition's source and graph, and starting an execution. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { type Definition, type Execution, getJson, loadDefinition, postJson, query } from "../api";
import { ErrorMessage, Section } from "../components/common";
import { StepGraph } from "../components/Graph";
import { JsonEditor } from "../components/SchemaForm";
import { SourceView } from "../components/Source";
import { orquestaInputs } from "../steps";
import { formatTime } from "../format";
import { navigate } from "../router";
import { stepsOf } from "../steps";

export function DefinitionsPage({ search }: { search: string }) {
  const params = new URLSearchParams(search);
  const [name, setName] = useState(params.get("name") ?? "");
  const [definitions, setDefinitions] = useState<Definition[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const wanted = new URLSearchParams(search).get("name");
    getJson<{ definitions: Definition[] }>(`/v1/definitions${query({ name: wanted, limit: 200 })}`).then(
      (found) => {
        setDefinitions(found.definitions);
        setError(null);
      },
      setError,
    );
  }, [search]);

  return (
    <div>
      <h1>Definitions</h1>
      <form
        class="filters"
        aria-label="filter definitions"
        onSubmit={(event) => {
          event.preventDefault();
          navigate(`/definitions${query({ name })}`);
        }}
      >
        <label>
          Name
          <input type="text" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <div class="buttons">
          <button type="submit">Show versions</button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {definitions && definitions.length === 0 && <p class="empty">No definition.</p>}
      {definitions && definitions.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Version</th>
              <th scope="col">Registered</th>
              <th scope="col">Id</th>
            </tr>
          </thead>
          <tbody>
            {definitions.map((definition) => (
              <tr key={definition.id}>
                <td>
                  <a href={`/definitions/${encodeURIComponent(definition.id)}`}>{definition.name || "(unnamed)"}</a>
                </td>
                <td>{definition.kind}</td>
                <td>{definition.version}</td>
                <td>{formatTime(definition.created_at)}</td>
                <td class="mono">{definition.id.slice(0, 12)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function DefinitionPage({ id }: { id: string }) {
  const [definition, setDefinition] = useState<Definition | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [startError, setStartError] = useState<unknown>(null);

  useEffect(() => {
    loadDefinition(id).then(setDefinition, setError);
  }, [id]);
  const steps = useMemo(
    () => (definition?.source ? stepsOf(definition.kind, definition.source, definition.document) : null),
    [definition],
  );

  const declared = useMemo(
    () => (definition?.kind === "orquesta" && definition.source ? orquestaInputs(definition.source) : null),
    [definition],
  );

  if (!definition) return error ? <ErrorMessage error={error} /> : <p>Loading…</p>;
  const start = async (input: unknown) => {
    setStartError(null);
    try {
      const started = await postJson<Execution>("/v1/executions", { definition_id: definition.id, input });
      navigate(`/executions/${encodeURIComponent(started.id)}`);
    } catch (failure) {
      setStartError(failure);
    }
  };
  return (
    <div>
      <h1>{definition.name || "Definition"}</h1>
      <dl class="facts">
        <dt>Id</dt>
        <dd class="mono">{definition.id}</dd>
        <dt>Kind</dt>
        <dd>{definition.kind}</dd>
        <dt>Version</dt>
        <dd>
          {definition.version} (<a href={`/definitions${query({ name: definition.name })}`}>all versions</a>)
        </dd>
        <dt>Registered</dt>
        <dd>{formatTime(definition.created_at)}</dd>
        <dt>Executions</dt>
        <dd>
          <a href={`/${query({ definition_id: definition.id })}`}>list them</a>
        </dd>
      </dl>
      <Section title="Start an execution" id="start">
        {declared && declared.length > 0 && (
          <p class="hint" id="start-input-names">
            Inputs it declares: {declared.map((input) => input.name).join(", ")} (without a default, an input left out is null).
          </p>
        )}
        <JsonEditor
          id="start-input"
          label="Input (JSON)"
          initial={declared ? JSON.stringify(Object.fromEntries(declared.map((input) => [input.name, input.default])), null, 2) : "{}"}
          submitLabel="Start"
          onSubmit={start}
          check={(value) =>
            typeof value === "object" && value !== null && !Array.isArray(value) ? null : "The input must be a JSON object."
          }
        />
        <ErrorMessage error={startError} />
      </Section>
      {steps && (
        <Section title="Graph" id="graph">
          <StepGraph steps={steps} statuses={new Map()} />
        </Section>
      )}
      <Section title="Source" id="source">
        <SourceView kind={definition.kind} source={definition.source ?? ""} />
      </Section>
    </div>
  );
}
