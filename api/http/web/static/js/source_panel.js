// The source viewer beside an answer or the search results: title, section path and page,
// the passage with the quoted span highlighted, its neighbours, and for a PDF the page itself.

import { api, el, locator, marked, showError } from "./shell.js";

const panel = document.getElementById("source-panel");
let opener = null;
let generation = 0;

if (panel) {
  document.getElementById("source-close").addEventListener("click", closeSource);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeSource();
  });
}

export function closeSource() {
  panel.hidden = true;
  document.body.classList.remove("panel-open");
  if (opener && opener.isConnected) opener.focus();
}

function quoteRange(text, quote, span) {
  if (span && text.slice(span[0], span[1]) === quote) return [span];
  if (!quote) return [];
  const at = text.indexOf(quote);
  return at >= 0 ? [[at, at + quote.length]] : [];
}

/**
 * Open a source. `source`: {chunk_ids, doc_id, title, section_path, pages, number?};
 * `passage`: the passage text (from the answer) if known; `quote`/`span`: what to highlight
 * (`highlights`: ranges in `passage`, e.g. a search's query words).
 */
export async function openSource(source, { passage = null, quote = "", span = null, highlights = null, label = "", from = null } = {}) {
  const mine = ++generation;
  opener = from;
  const prefix = source.number ? `[${source.number}] ` : "";
  document.getElementById("source-title").textContent = prefix + (source.title || "Source");
  document.getElementById("source-meta").textContent = locator("", source.section_path, source.pages).replace(/^ · /, "");
  const body = document.getElementById("source-text");
  const pdf = document.getElementById("source-pdf");
  body.replaceChildren(el("p", { class: "hint" }, "Loading the passage…"));
  pdf.hidden = true;
  panel.hidden = false;
  panel.dataset.docId = source.doc_id;
  document.body.classList.add("panel-open");
  panel.focus();
  panel.scrollIntoView({ block: "nearest" });

  let chunk = null;
  try {
    const id = source.chunk_ids && source.chunk_ids[0];
    if (id) chunk = await (await api(`/v1/chunks/${encodeURIComponent(id)}?neighbours=1`)).json();
  } catch (error) {
    if (mine !== generation) return;
    if (!passage) {
      body.replaceChildren(el("p", { class: "error" }, `This passage cannot be opened: ${error.message}`));
      return;
    }
  }
  if (mine !== generation) return;
  const text = passage ?? (chunk ? chunk.text : "");
  const ranges = highlights ?? quoteRange(text, quote, span);
  const children = [];
  if (chunk && chunk.before.length && !passage) {
    children.push(...chunk.before.map((c) => el("p", { class: "neighbour" }, c.text)));
  }
  children.push(el("blockquote", { class: "cited", "aria-label": "Cited passage" }, ...marked(text, ranges)));
  if (chunk && chunk.after.length && !passage) {
    children.push(...chunk.after.map((c) => el("p", { class: "neighbour" }, c.text)));
  }
  if (label && ranges.length) children.unshift(el("p", { class: "quote-label" }, label));
  body.replaceChildren(...children);

  const fileType = chunk ? chunk.file_type : null;
  const pages = source.pages && source.pages.length ? source.pages : chunk ? chunk.pages : [];
  if (fileType === "pdf" && pages.length) {
    const quoted = quote || (ranges.length ? text.slice(ranges[0][0], ranges[0][1]) : "");
    try {
      const { renderPdfPage } = await import("./pdf_view.js");
      if (mine !== generation) return;
      await renderPdfPage(`/v1/documents/${encodeURIComponent(source.doc_id)}/file`, pages[0], quoted, () => mine === generation);
    } catch (error) {
      if (mine === generation) showError(`The PDF page could not be shown: ${error.message}`);
    }
  }
}
