/**
 * A form generated from a JSON schema: an object's properties become fields
 * (check boxes, numbers, text, choices). Anything the generator does not cover
 * falls back to a JSON editor, so every answer stays possible.
 */
import { useState } from "preact/hooks";

type Schema = Record<string, unknown>;

function fieldType(schema: Schema): "boolean" | "number" | "integer" | "string" | "enum" | null {
  if (Array.isArray(schema.enum)) return "enum";
  const type = schema.type;
  if (type === "boolean" || type === "number" || type === "integer" || type === "string") return type;
  return null;
}

/** Whether the generated fields can express every answer the schema takes. */
export function formFits(schema: unknown): schema is Schema {
  if (typeof schema !== "object" || schema === null) return false;
  const properties = (schema as Schema).properties;
  if ((schema as Schema).type !== "object" || typeof properties !== "object" || properties === null) return false;
  return Object.values(properties as Record<string, Schema>).every((property) => fieldType(property) !== null);
}

export function SchemaForm({
  schema,
  idPrefix,
  onSubmit,
  submitLabel,
}: {
  schema: Schema;
  idPrefix: string;
  onSubmit: (value: Record<string, unknown>) => void;
  submitLabel: string;
}) {
  const properties = schema.properties as Record<string, Schema>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const [values, setValues] = useState<Record<string, unknown>>(() =>
    Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [
        name,
        property.default ?? (fieldType(property) === "boolean" ? false : ""),
      ]),
    ),
  );
  const set = (name: string, value: unknown) => setValues({ ...values, [name]: value });

  const submit = (event: Event) => {
    event.preventDefault();
    const answer: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(properties)) {
      const value = values[name];
      const type = fieldType(property);
      if (value === "" && !required.has(name)) continue;
      answer[name] = type === "number" || type === "integer" ? Number(value) : value;
    }
    onSubmit(answer);
  };

  return (
    <form class="schema-form" onSubmit={submit}>
      {Object.entries(properties).map(([name, property]) => {
        const id = `${idPrefix}-${name}`;
        const title = typeof property.title === "string" ? property.title : name;
        const description = typeof property.description === "string" ? property.description : null;
        const type = fieldType(property);
        const describedBy = description ? `${id}-help` : undefined;
        let field;
        if (type === "boolean") {
          field = (
            <input
              id={id}
              type="checkbox"
              checked={Boolean(values[name])}
              aria-describedby={describedBy}
              onChange={(e) => set(name, (e.target as HTMLInputElement).checked)}
            />
          );
        } else if (type === "enum") {
          field = (
            <select id={id} required={required.has(name)} aria-describedby={describedBy} onChange={(e) => set(name, JSON.parse((e.target as HTMLSelectElement).value))}>
              <option value='""'>(choose)</option>
              {(property.enum as unknown[]).map((choice) => (
                <option key={JSON.stringify(choice)} value={JSON.stringify(choice)}>
                  {String(choice)}
                </option>
              ))}
            </select>
          );
        } else {
          field = (
            <input
              id={id}
              type={type === "string" ? "text" : "number"}
              step={type === "integer" ? 1 : "any"}
              required={required.has(name)}
              value={String(values[name] ?? "")}
              aria-describedby={describedBy}
              onInput={(e) => set(name, (e.target as HTMLInputElement).value)}
            />
          );
        }
        return (
          <div class={`field field-${type}`} key={name}>
            <label for={id}>
              {title}
              {required.has(name) ? " (required)" : ""}
            </label>
            {field}
            {description && (
              <small id={describedBy} class="hint">
                {description}
              </small>
            )}
          </div>
        );
      })}
      <button type="submit">{submitLabel}</button>
    </form>
  );
}

/** A JSON editor: a labelled text area that says when its text is not JSON. */
export function JsonEditor({
  id,
  label,
  initial,
  onSubmit,
  submitLabel,
  check,
}: {
  id: string;
  label: string;
  initial: string;
  onSubmit: (value: unknown) => void;
  submitLabel: string;
  /** What is wrong with a parsed value, or null when it may be sent. */
  check?: (value: unknown) => string | null;
}) {
  const [text, setText] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = (event: Event) => {
    event.preventDefault();
    let value: unknown;
    try {
      value = text.trim() ? JSON.parse(text) : null;
    } catch (error) {
      setProblem(`Not JSON: ${(error as Error).message}`);
      return;
    }
    const wrong = check ? check(value) : null;
    setProblem(wrong);
    if (!wrong) onSubmit(value);
  };
  return (
    <form class="json-editor" onSubmit={submit}>
      <label for={id}>{label}</label>
      <textarea
        id={id}
        rows={8}
        spellcheck={false}
        value={text}
        aria-invalid={problem ? "true" : undefined}
        aria-describedby={problem ? `${id}-problem` : undefined}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
      />
      {problem && (
        <p id={`${id}-problem`} class="error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit">{submitLabel}</button>
    </form>
  );
}
