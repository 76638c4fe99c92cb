// The chat page: sources as soon as retrieval is done, the draft as it streams, then the
// checked answer with [n] links that open the cited passage. The conversation lives in this
// browser tab only (sessionStorage).

import { api, el, locator, showError } from "./shell.js";
import { readEvents } from "./sse.js";
import { openSource } from "./source_panel.js";

const STORE = "citewise.conversation";
const MAX_HISTORY_TURNS = 10;
const SUPPORT_LABEL = "Highlighted: the passage that supports the answer.";
const TIMING_LABELS = { retrieve: "Retrieve", first_token: "First token", generate: "Generate", follow_up: "Open parts", check: "Check", total: "Total" };

const form = document.getElementById("ask-form");
const input = document.getElementById("question");
const button = document.getElementById("ask-button");
const turns = document.getElementById("turns");

function stored() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "[]");
  } catch {
    return [];
  }
}

function store(conversation) {
  sessionStorage.setItem(STORE, JSON.stringify(conversation));
}

function history(conversation) {
  return conversation.slice(-MAX_HISTORY_TURNS).flatMap((turn) => [
    { role: "user", content: turn.question },
    { role: "assistant", content: turn.answer.text },
  ]);
}

function sourceList(sources, heading, answer) {
  if (!sources.length) return null;
  const items = sources.map((source) => {
    const citation = answer ? (answer.citations || []).find((c) => c.number === source.number) : null;
    const open = (event) =>
      openSource(source, {
        passage: source.text ?? null,
        quote: citation ? citation.quote : "",
        span: citation ? citation.quote_span : null,
        label: SUPPORT_LABEL,
        from: event.currentTarget,
      });
    return el("li", {},
      el("button", { type: "button", class: "link source-link", "data-number": source.number, onclick: open },
        el("span", { class: "number" }, `[${source.number}]`), " ", locator(source.title, source.section_path, source.pages)));
  });
  return el("section", { class: "sources", "aria-label": heading }, el("h3", {}, heading), el("ol", { class: "source-list" }, items));
}

function answerText(answer) {
  const byNumber = new Map((answer.sources || []).map((s) => [s.number, s]));
  const cited = new Map((answer.citations || []).map((c) => [c.number, c]));
  const paragraphs = answer.text.split(/\n{2,}/);
  return paragraphs.map((paragraph) => {
    const parts = [];
    let at = 0;
    for (const match of paragraph.matchAll(/\[(\d+)\]/g)) {
      const number = Number(match[1]);
      const source = byNumber.get(number);
      if (!source) continue;
      parts.push(paragraph.slice(at, match.index));
      const citation = cited.get(number);
      parts.push(el("a", {
        href: `#source-${number}`,
        class: "cite",
        "data-number": number,
        "aria-label": `Source ${number}: ${source.title}`,
        onclick: (event) => {
          event.preventDefault();
          openSource(source, {
            passage: source.text ?? null,
            quote: citation ? citation.quote : "",
            span: citation ? citation.quote_span : null,
            label: SUPPORT_LABEL,
            from: event.currentTarget,
          });
        },
      }, `[${number}]`));
      at = match.index + match[0].length;
    }
    parts.push(paragraph.slice(at));
    return el("p", {}, ...parts);
  });
}

function withheld(answer) {
  const cut = answer.withheld || [];
  if (cut.length) {
    const summary = cut.length === 1 ? "1 statement withheld: the sources don't support it" : `${cut.length} statements withheld: the sources don't support them`;
    return el("details", { class: "withheld" }, el("summary", {}, summary),
      el("ul", {}, cut.map((w) => el("li", {}, el("q", {}, w.sentence), el("span", { class: "hint" }, ` (${w.reason})`)))));
  }
  const unsupported = (answer.verdicts || []).filter((v) => v.kind === "claim" && !v.supported);
  if (unsupported.length && !answer.abstained) {
    return el("p", { class: "warning" }, `Not verified: ${unsupported.map((v) => `"${v.sentence}"`).join(" ")} (the sources don't support it)`);
  }
  return null;
}

function unanswered(answer) {
  const open = answer.unanswered_parts || [];
  if (!open.length) return null;
  return el("p", { class: "warning unanswered" }, "Not answered by the sources: ",
    ...open.map((part, i) => el("q", {}, (i ? " " : "") + part)));
}

function timings(answer, client) {
  const rows = Object.entries(TIMING_LABELS)
    .filter(([key]) => typeof answer.timings?.[key] === "number")
    .map(([key, label]) => el("tr", {}, el("th", { scope: "row" }, label), el("td", {}, `${answer.timings[key].toFixed(2)} s`)));
  if (client.sources !== undefined) rows.push(el("tr", {}, el("th", { scope: "row" }, "Sources shown (this browser)"), el("td", {}, `${client.sources.toFixed(2)} s`)));
  return el("details", { class: "timings" }, el("summary", {}, "Timings"), el("table", {}, el("tbody", {}, rows)));
}

function feedback(question, answer) {
  let rating = null;
  const status = el("p", { class: "status", role: "status" });
  const comment = el("textarea", { id: `comment-${answer.answer_id}`, rows: 2, maxlength: 2000 });
  const thumbs = ["up", "down"].map((value) =>
    el("button", {
      type: "button",
      class: "secondary thumb",
      "aria-pressed": "false",
      "data-rating": value,
      onclick: (event) => {
        rating = value;
        for (const b of thumbs) b.setAttribute("aria-pressed", String(b === event.currentTarget));
      },
    }, value === "up" ? "👍 Helpful" : "👎 Not helpful"));
  const send = el("button", {
    type: "submit",
    class: "secondary",
  }, "Send feedback");
  const box = el("form", {
    class: "feedback",
    "aria-label": "Feedback on this answer",
    onsubmit: async (event) => {
      event.preventDefault();
      if (!rating) {
        status.textContent = "Choose 👍 or 👎 first.";
        return;
      }
      send.disabled = true;
      try {
        await api("/v1/feedback", {
          method: "POST",
          json: { answer_id: answer.answer_id, rating, comment: comment.value.trim() || null, question, answer_text: answer.text },
        });
        status.textContent = "Thanks: your feedback was recorded.";
      } catch (error) {
        status.textContent = `Feedback not sent: ${error.message}`;
        send.disabled = false;
      }
    },
  },
  el("div", { class: "row" }, thumbs),
  el("label", { for: comment.id }, "Comment (optional)"), comment, send, status);
  return box;
}

function renderFinal(article, question, answer, client) {
  const text = el("div", { class: "answer-text checked" }, answerText(answer));
  const parts = [text];
  if (answer.abstained) {
    article.classList.add("abstained");
    parts.push(sourceList(answer.sources || [], "Closest sources", null));
  } else {
    parts.push(withheld(answer));
    parts.push(unanswered(answer));
    parts.push(sourceList(answer.sources || [], "Sources", answer));
  }
  parts.push(timings(answer, client), feedback(question, answer));
  article.replaceChildren(...parts.filter(Boolean));
  article.dataset.state = answer.abstained ? "abstained" : "answered";
  article.dataset.answerId = answer.answer_id;
  article.setAttribute("aria-busy", "false");
}

function newTurn(question) {
  const article = el("article", { class: "answer", "aria-live": "polite", "aria-busy": "true", "data-state": "waiting" },
    el("p", { class: "hint" }, "Searching the documents…"));
  const item = el("li", { class: "turn" }, el("p", { class: "question" }, el("span", { class: "visually-hidden" }, "You asked: "), question), article);
  turns.append(item);
  return article;
}

async function ask(question) {
  const conversation = stored();
  const article = newTurn(question);
  const started = performance.now();
  const client = {};
  let sourcesBlock = null;
  let draft = null;
  const response = await api("/v1/ask", {
    method: "POST",
    headers: { Accept: "text/event-stream" },
    // draft: the unchecked text streams in labelled "Draft, being checked" and the checked
    // answer replaces it (the API sends no draft to clients that do not ask).
    json: { question, history: history(conversation), draft: true },
  });
  for await (const { event, data } of readEvents(response)) {
    const payload = JSON.parse(data);
    if (event === "sources") {
      client.sources = (performance.now() - started) / 1000;
      draft = el("div", { class: "answer-text draft" }, el("span", { class: "badge" }, "Draft, being checked"), " ");
      sourcesBlock = sourceList(payload.sources, payload.sources.length ? "Sources" : "No sources", null);
      article.replaceChildren(...[draft, sourcesBlock].filter(Boolean));
      article.dataset.state = "sources";
    } else if (event === "delta") {
      if (!draft) continue;
      draft.append(payload.text);
      article.dataset.state = "streaming";
    } else if (event === "answer") {
      renderFinal(article, question, payload, client);
      conversation.push({ question, answer: payload, client });
      store(conversation);
    } else if (event === "error") {
      article.replaceChildren(el("p", { class: "error", role: "alert" }, `The answer failed: ${payload.detail || payload.title}`));
      article.dataset.state = "error";
      article.setAttribute("aria-busy", "false");
    }
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question) return;
  showError("");
  button.disabled = true;
  input.value = "";
  try {
    await ask(question);
  } catch (error) {
    if (error.status !== 401) showError(`The question could not be answered: ${error.message}`);
  } finally {
    button.disabled = false;
    input.focus();
  }
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

document.getElementById("new-conversation").addEventListener("click", () => {
  store([]);
  turns.replaceChildren();
  input.focus();
});

for (const turn of stored()) {
  renderFinal(newTurn(turn.question), turn.question, turn.answer, turn.client || {});
}
