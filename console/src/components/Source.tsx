/**
 * A definition's source with syntax highlighting (highlight.js, with only the
 * languages definitions are written in, so the bundle stays small).
 */
import hljs from "highlight.js/lib/core";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import yaml from "highlight.js/lib/languages/yaml";
import { useMemo } from "preact/hooks";

hljs.registerLanguage("json", json);
hljs.registerLanguage("python", python);
hljs.registerLanguage("yaml", yaml);

/** Past this size a source is shown plain: highlighting it would hold up the page. */
const HIGHLIGHTED_CHARACTERS = 200_000;

/** The language a definition of ``kind`` is written in, by its text. */
export function languageOf(kind: string, source: string): string {
  if (kind === "code") return "python";
  // A state machine is JSON (or YAML); the other kinds are YAML.
  return source.trimStart().startsWith("{") ? "json" : "yaml";
}

export function SourceView({ kind, source }: { kind: string; source: string }) {
  const language = languageOf(kind, source);
  // highlight.js escapes the text it is given: its HTML holds only its own spans.
  const html = useMemo(
    () => (source.length > HIGHLIGHTED_CHARACTERS ? null : hljs.highlight(source, { language, ignoreIllegals: true }).value),
    [source, language],
  );
  return (
    <pre class="source" tabIndex={0} aria-label="definition source" data-language={language}>
      {html === null ? <code>{source}</code> : <code class={`hljs language-${language}`} dangerouslySetInnerHTML={{ __html: html }} />}
    </pre>
  );
}
