// What every page shares: the session (for the CSRF token), JSON calls to the API with the
// session cookie, error display and the sign-out button.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let sessionPromise = null;

/** The signed-in session ({user_id, groups, is_admin, csrf_token, ...}), or null. */
export function session() {
  if (sessionPromise === null) {
    sessionPromise = fetch("/web/session", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null);
  }
  return sessionPromise;
}

/** An API error with the problem's detail as its message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function problemMessage(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail) && body.detail.length) return body.detail[0].msg;
    return body.title || response.statusText;
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

/** fetch() for the API: the cookie, the CSRF header on unsafe methods, errors thrown. */
export async function api(url, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = new Headers(options.headers || {});
  if (UNSAFE.has(method)) {
    const current = await session();
    if (current && current.csrf_token) headers.set("X-CSRF-Token", current.csrf_token);
  }
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const response = await fetch(url, { ...options, method, headers, credentials: "same-origin" });
  if (response.status === 401) {
    window.location.assign("/login?error=expired");
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) throw new ApiError(response.status, await problemMessage(response));
  return response;
}

/** Show an error in the page's alert line. */
export function showError(message) {
  const line = document.getElementById("app-error");
  if (!line) return;
  line.textContent = message;
  line.hidden = !message;
}

/** Create an element with attributes and children (strings become text, never HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Text with the (start, end) ranges wrapped in <mark>. */
export function marked(text, ranges) {
  const parts = [];
  let at = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start) continue;
    parts.push(text.slice(at, start), el("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts.filter((p) => p !== "");
}

/** "Title › Section › Subsection · p. 3" */
export function locator(title, sectionPath, pages) {
  // a section path often starts with the document's own title: name it once
  const sections = (sectionPath || []).filter((s, i) => s && !(i === 0 && s === title));
  const heading = [title, ...sections].filter(Boolean).join(" › ");
  const where = pages && pages.length ? ` · ${pages.length > 1 ? "pp." : "p."} ${pages.join(", ")}` : "";
  return heading + where;
}

async function signOut() {
  try {
    await api("/web/logout", { method: "POST" });
  } catch (error) {
    if (error.status !== 401) {
      showError(`Signing out failed: ${error.message}`);
      return;
    }
  }
  window.location.assign("/login");
}

const button = document.getElementById("sign-out");
if (button) button.addEventListener("click", signOut);
