/** The console's shell: navigation, the token login, and the page of the current path. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { onUnauthorized, setToken, token } from "./api";
import { DefinitionPage, DefinitionsPage } from "./pages/Definitions";
import { ExecutionPage } from "./pages/Execution";
import { ExecutionsPage } from "./pages/Executions";
import { followLink, parse, useLocation } from "./router";
import "./style.css";

function Login({ onLogin }: { onLogin: () => void }) {
  const [value, setValue] = useState("");
  return (
    <form
      class="panel login"
      aria-labelledby="login-title"
      onSubmit={(event) => {
        event.preventDefault();
        setToken(value.trim());
        onLogin();
      }}
    >
      <h1 id="login-title">This server needs a token</h1>
      <p>The token is kept in this tab only (session storage) and sent as a bearer token to the API.</p>
      <label for="token">API token</label>
      <input id="token" type="password" autocomplete="current-password" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit">Sign in</button>
    </form>
  );
}

function App() {
  const location = useLocation();
  const [needsToken, setNeedsToken] = useState(false);
  const [session, setSession] = useState(0);
  useEffect(() => onUnauthorized(() => setNeedsToken(true)), []);
  // After moving to another page, keyboard and screen reader users start at its content.
  const [firstPath] = useState(location.pathname);
  useEffect(() => {
    if (location.pathname !== firstPath) document.getElementById("main")?.focus();
  }, [location.pathname]);
  const route = parse(location.pathname);
  const current = (page: string) => (route.page === page ? "page" : undefined);

  let body;
  if (needsToken) {
    body = (
      <Login
        onLogin={() => {
          setNeedsToken(false);
          setSession(session + 1);
        }}
      />
    );
  } else if (route.page === "executions") {
    body = <ExecutionsPage attention={route.attention} search={location.search} />;
  } else if (route.page === "execution") {
    body = <ExecutionPage id={route.id} />;
  } else if (route.page === "definitions") {
    body = <DefinitionsPage search={location.search} />;
  } else if (route.page === "definition") {
    body = <DefinitionPage id={route.id} />;
  } else {
    body = <p>No such page. <a href="/">Executions</a></p>;
  }
  return (
    <div onClick={followLink}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="main">
          <strong class="brand">Cadenza</strong>
          <a href="/" aria-current={route.page === "executions" && !("attention" in route && route.attention) ? "page" : undefined}>
            Executions
          </a>
          <a href="/attention" aria-current={route.page === "executions" && route.attention ? "page" : undefined}>
            Needs attention
          </a>
          <a href="/definitions" aria-current={current("definitions")}>
            Definitions
          </a>
          {token() && (
            <button
              type="button"
              class="link"
              onClick={() => {
                setToken(null);
                setNeedsToken(true);
              }}
            >
              Sign out
            </button>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1} key={session}>
        {body}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
