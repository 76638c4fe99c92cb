// A PDF page rendered with the vendored pdf.js, with its text layer and the quoted span
// highlighted where the text layer's words match it.

import * as pdfjs from "../vendor/pdfjs/pdf.min.mjs";

pdfjs.GlobalWorkerOptions.workerSrc = new URL("../vendor/pdfjs/pdf.worker.min.mjs", import.meta.url).href;

const documents = new Map();

function load(url) {
  if (!documents.has(url)) {
    const task = pdfjs.getDocument({ url, isEvalSupported: false, withCredentials: true });
    documents.set(url, task.promise.catch((error) => {
      documents.delete(url);
      throw error;
    }));
  }
  return documents.get(url);
}

const normal = (s) => s.toLowerCase().replace(/\s+/g, " ");

/** Mark the text-layer spans that hold `quote` (or, failing that, its first words). */
function highlight(container, quote) {
  const spans = [...container.querySelectorAll("span:not(.markedContent)")];
  let joined = "";
  const owners = [];
  for (const span of spans) {
    const text = normal(span.textContent) + " ";
    for (let i = 0; i < text.length; i += 1) owners.push(span);
    joined += text;
  }
  const wanted = normal(quote).trim();
  const tries = [wanted, wanted.slice(0, 80), wanted.slice(0, 40)].filter((t) => t.length >= 8);
  for (const attempt of tries) {
    // the text layer may split words or add spaces: compare without spaces
    const squeezed = [];
    let compact = "";
    for (let i = 0; i < joined.length; i += 1) {
      if (joined[i] !== " ") {
        squeezed.push(i);
        compact += joined[i];
      }
    }
    const needle = attempt.replace(/ /g, "");
    const at = compact.indexOf(needle);
    if (at < 0) continue;
    const hit = new Set();
    for (let i = at; i < at + needle.length; i += 1) hit.add(owners[squeezed[i]]);
    for (const span of hit) span.classList.add("highlight");
    const first = [...hit][0];
    if (first) first.scrollIntoView({ block: "center" });
    return hit.size;
  }
  return 0;
}

/** Render page `number` of the PDF at `url` into the source panel. */
export async function renderPdfPage(url, number, quote, stillWanted) {
  const view = document.getElementById("source-pdf");
  const box = document.getElementById("source-pdf-page");
  const canvas = document.getElementById("source-canvas");
  const layer = document.getElementById("source-text-layer");
  const label = document.getElementById("source-pdf-label");
  const pdf = await load(url);
  const page = await pdf.getPage(Math.min(Math.max(1, number), pdf.numPages));
  if (!stillWanted()) return;
  // the panel's inner width (the PDF view itself is still hidden, so it has none yet)
  const panel = document.getElementById("source-panel");
  const inner = panel.clientWidth - parseFloat(getComputedStyle(panel).paddingLeft) * 2 - 4;
  const width = Math.max(200, Math.min(inner || 600, 900));
  const base = page.getViewport({ scale: 1 });
  const viewport = page.getViewport({ scale: width / base.width });
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = `${viewport.width}px`;
  canvas.style.height = `${viewport.height}px`;
  box.style.width = `${viewport.width}px`;
  box.style.height = `${viewport.height}px`;
  box.style.setProperty("--scale-factor", String(viewport.scale));
  await page.render({
    canvasContext: canvas.getContext("2d"),
    viewport,
    transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
  }).promise;
  if (!stillWanted()) return;
  layer.replaceChildren();
  const textLayer = new pdfjs.TextLayer({ textContentSource: page.streamTextContent(), container: layer, viewport });
  await textLayer.render();
  const found = quote ? highlight(layer, quote) : 0;
  label.textContent = `Page ${page.pageNumber} of ${pdf.numPages}` + (found ? " · the quoted passage is highlighted" : "");
  view.hidden = false;
  view.dataset.page = String(page.pageNumber);
  view.dataset.highlighted = String(found);
}
