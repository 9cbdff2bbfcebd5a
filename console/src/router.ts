/**
 * Paths of the console, kept in the address bar (the server answers each of them
 * with the console's page, so a link or a reload opens the same view).
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "executions"; attention: boolean }
  | { page: "execution"; id: string }
  | { page: "definitions" }
  | { page: "definition"; id: string }
  | { page: "not-found" };

export function parse(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "executions")) {
    return { page: "executions", attention: false };
  }
  if (parts.length === 1 && parts[0] === "attention") return { page: "executions", attention: true };
  if (parts.length === 2 && parts[0] === "executions") return { page: "execution", id: parts[1] };
  if (parts.length === 1 && parts[0] === "definitions") return { page: "definitions" };
  if (parts.length === 2 && parts[0] === "definitions") return { page: "definition", id: parts[1] };
  return { page: "not-found" };
}

const listeners = new Set<() => void>();

/** Go to `href` (a path of the console) without reloading the page. */
export function navigate(href: string): void {
  history.pushState(null, "", href);
  listeners.forEach((listener) => listener());
}

window.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

/** The current location; re-renders when it changes. */
export function useLocation(): { pathname: string; search: string } {
  const [location, setLocation] = useState({ pathname: window.location.pathname, search: window.location.search });
  useEffect(() => {
    const listener = () => setLocation({ pathname: window.location.pathname, search: window.location.search });
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return location;
}

/** Follow a plain click on a console link in place; let modified clicks open tabs. */
export function followLink(event: MouseEvent): void {
  const anchor = (event.target as HTMLElement).closest("a");
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const href = anchor.getAttribute("href");
  if (!href || !href.startsWith("/") || anchor.target) return;
  event.preventDefault();
  navigate(href);
}
