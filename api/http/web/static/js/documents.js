// The documents page (admins): drag-and-drop upload, the job list with live status, the
// document list with status, version, chunks and readers; edit readers; delete.

import { api, el, showError } from "./shell.js";

const jobsBody = document.getElementById("jobs");
const docsBody = document.getElementById("documents");
const status = document.getElementById("documents-status");
const dropzone = document.getElementById("dropzone");
const picker = document.getElementById("files");
const POLL_MS = 1000;
let polling = null;

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

function readers(acl) {
  const parts = [];
  if (acl.groups.length) parts.push(`groups: ${acl.groups.join(", ")}`);
  if (acl.users.length) parts.push(`users: ${acl.users.join(", ")}`);
  return parts.join("; ") || "nobody";
}

async function upload(files) {
  const groups = list(document.getElementById("upload-groups").value);
  showError("");
  for (const file of files) {
    const body = new FormData();
    body.append("file", file, file.name);
    for (const group of groups) body.append("acl_groups", group);
    try {
      await api("/v1/documents", { method: "POST", body });
      status.textContent = `${file.name}: queued.`;
    } catch (error) {
      showError(`${file.name} was not accepted: ${error.message}`);
    }
  }
  await refresh();
}

function jobRow(job) {
  const details = job.status === "failed"
    ? el("span", { class: "error-text" }, job.error || "failed")
    : job.status === "done" && job.kind === "upload" ? `${job.outcome ?? "done"}, ${job.chunk_count ?? 0} chunks` : "";
  return el("tr", { "data-job-id": job.job_id, "data-status": job.status },
    el("td", {}, job.filename || job.doc_id),
    el("td", {}, job.kind),
    el("td", {}, el("span", { class: `status-pill ${job.status}` }, job.status)),
    el("td", { class: "job-details" }, details),
    el("td", {}, when(job.created_at)));
}

function aclEditor(doc, row) {
  const groupsId = `acl-groups-${doc.doc_id}`;
  const usersId = `acl-users-${doc.doc_id}`;
  const groups = el("input", { id: groupsId, type: "text", value: doc.acl.groups.join(", ") });
  const users = el("input", { id: usersId, type: "text", value: doc.acl.users.join(", ") });
  const form = el("form", {
    class: "acl-editor",
    "aria-label": `Readers of ${doc.title}`,
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api(`/v1/documents/${encodeURIComponent(doc.doc_id)}/acl`, {
          method: "PATCH",
          json: { groups: list(groups.value), users: list(users.value) },
        });
        status.textContent = `Readers of ${doc.title} changed.`;
        form.remove();
        await refresh();
      } catch (error) {
        showError(`The readers of ${doc.title} were not changed: ${error.message}`);
      }
    },
  },
  el("label", { for: groupsId }, "Groups"), groups,
  el("label", { for: usersId }, "Users"), users,
  el("div", { class: "row" },
    el("button", { type: "submit" }, "Save readers"),
    el("button", {
      type: "button",
      class: "secondary",
      onclick: () => {
        form.remove();
        refresh();
      },
    }, "Cancel")));
  const cell = row.querySelector(".acl-cell");
  cell.replaceChildren(form);
  groups.focus();
}

function docRow(doc) {
  const row = el("tr", { "data-doc-id": doc.doc_id, "data-title": doc.title },
    el("td", {}, doc.title || doc.source_uri.split("/").pop(), el("div", { class: "hint" }, doc.source_uri)),
    el("td", {}, el("span", { class: `status-pill ${doc.status}` }, doc.status), doc.error ? el("div", { class: "error-text" }, doc.error) : null),
    el("td", {}, String(doc.version)),
    el("td", {}, String(doc.chunk_count)),
    el("td", { class: "acl-cell" }, readers(doc.acl)),
    el("td", { class: "actions-cell" }, el("div", { class: "actions" })));
  row.querySelector(".actions").append(
    el("button", { type: "button", class: "secondary", "aria-label": `Edit readers of ${doc.title}`, onclick: () => aclEditor(doc, row) }, "Edit readers"),
    el("button", {
      type: "button",
      class: "danger",
      "aria-label": `Delete ${doc.title}`,
      onclick: async () => {
        if (!window.confirm(`Delete ${doc.title} and all its passages?`)) return;
        try {
          await api(`/v1/documents/${encodeURIComponent(doc.doc_id)}`, { method: "DELETE" });
          status.textContent = `${doc.title}: deletion queued.`;
          await refresh();
        } catch (error) {
          showError(`${doc.title} was not deleted: ${error.message}`);
        }
      },
    }, "Delete"));
  return row;
}

async function refresh() {
  try {
    const [jobs, docs] = await Promise.all([
      api("/v1/jobs?limit=50").then((r) => r.json()),
      api("/v1/documents").then((r) => r.json()),
    ]);
    jobsBody.replaceChildren(...jobs.jobs.map(jobRow));
    if (!document.querySelector(".acl-editor")) docsBody.replaceChildren(...docs.documents.map(docRow));
    const busy = jobs.jobs.some((j) => j.status === "queued" || j.status === "running");
    clearTimeout(polling);
    if (busy) polling = setTimeout(refresh, POLL_MS);
  } catch (error) {
    if (error.status !== 401) showError(`The lists could not be loaded: ${error.message}`);
  }
}

picker.addEventListener("change", () => {
  if (picker.files.length) upload([...picker.files]);
  picker.value = "";
});
for (const name of ["dragenter", "dragover"]) {
  dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    dropzone.classList.add("over");
  });
}
for (const name of ["dragleave", "drop"]) {
  dropzone.addEventListener(name, () => dropzone.classList.remove("over"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer.files.length) upload([...event.dataTransfer.files]);
});
document.getElementById("upload-form").addEventListener("submit", (event) => event.preventDefault());

refresh();
