// The search page: filters, ranked passages with highlighted snippets, and the keyboard:
// "/" focuses the query, arrows move between results, Enter opens one.

import { api, el, locator, marked, showError } from "./shell.js";
import { openSource } from "./source_panel.js";

const form = document.getElementById("search-form");
const query = document.getElementById("query");
const results = document.getElementById("results");
const status = document.getElementById("search-status");

function filters() {
  const value = (id) => document.getElementById(id).value.trim();
  const out = {};
  if (value("file-type")) out.file_types = [value("file-type")];
  if (value("path-prefix")) out.path_prefix = value("path-prefix");
  if (value("modified-after")) out.modified_after = `${value("modified-after")}T00:00:00Z`;
  if (value("modified-before")) out.modified_before = `${value("modified-before")}T23:59:59Z`;
  return out;
}

function result(hit) {
  const open = (event) =>
    openSource(
      { chunk_ids: [hit.chunk_id], doc_id: hit.doc_id, title: hit.title, section_path: hit.section_path, pages: hit.pages },
      { from: event.currentTarget, quote: hit.snippet.replace(/^…|…$/g, "").trim(), label: "Highlighted: the passage that matched." },
    );
  const kind = (hit.source_uri.match(/\.([a-z0-9]+)$/i) || [])[1];
  return el("li", { class: "result" },
    el("button", { type: "button", class: "result-open", "data-doc-id": hit.doc_id, onclick: open },
      el("span", { class: "result-title" }, hit.title),
      kind ? el("span", { class: "badge" }, kind.toUpperCase()) : null,
      el("span", { class: "result-where" }, locator("", hit.section_path, hit.pages).replace(/^ · /, "")),
      el("span", { class: "snippet" }, ...marked(hit.snippet, hit.highlights))));
}

async function search() {
  const text = query.value.trim();
  if (!text) return;
  showError("");
  status.textContent = "Searching…";
  results.replaceChildren();
  try {
    const body = { query: text, mode: document.getElementById("mode").value, filters: filters() };
    const found = await (await api("/v1/search", { method: "POST", json: body })).json();
    results.replaceChildren(...found.results.map(result));
    status.textContent = found.results.length
      ? `${found.results.length} passage${found.results.length === 1 ? "" : "s"} found. Use the arrow keys to move, Enter to open.`
      : "Nothing found among the documents you may read.";
  } catch (error) {
    status.textContent = "";
    if (error.status !== 401) showError(`Search failed: ${error.message}`);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});

function buttons() {
  return [...results.querySelectorAll(".result-open")];
}

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest("input, textarea, select");
  if (event.key === "/" && !typing) {
    event.preventDefault();
    query.focus();
    query.select();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const list = buttons();
  if (!list.length || (typing && event.target !== query)) return;
  const at = list.indexOf(document.activeElement);
  let next;
  if (event.key === "ArrowDown") next = at < 0 ? 0 : Math.min(at + 1, list.length - 1);
  else if (at <= 0) {
    if (at === 0) query.focus();
    event.preventDefault();
    return;
  } else next = at - 1;
  event.preventDefault();
  list[next].focus();
});
