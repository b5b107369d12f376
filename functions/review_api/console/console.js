// The review console: lists pending reviews, shows one beside its document, and sends the decision.
// Authentication: the API expects "Authorization: Bearer <token>" (a Cognito ID token on AWS, the
// documented development token in the local cloud). The token is kept in this tab only.
"use strict";

const api = (path, options = {}) => {
  const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token()}` };
  return fetch(path, { ...options, headers }).then(async (response) => {
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw Object.assign(new Error(body.message || response.statusText), { status: response.status });
    return body;
  });
};

function token() {
  let value = sessionStorage.getItem("aiflows.token") || new URLSearchParams(location.search).get("token");
  if (!value) value = prompt("Sign-in token (local cloud: dev)") || "";
  sessionStorage.setItem("aiflows.token", value);
  return value;
}

const $ = (id) => document.getElementById(id);
const text = (tag, content, className) => {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
};
let current = null;

// Who is signed in, and the tenants in scope: an administrator sees every tenant.
function signedIn({ reviewer, role, every_tenant: everyTenant, tenants }) {
  const scope = everyTenant ? "every tenant" : tenants.length ? `tenants ${tenants.join(", ")}` : "no tenant";
  $("who").textContent = `${reviewer} · ${role || "no role: reads, decides nothing"} · ${scope}`;
  $("who").dataset.role = role || "";
}

async function loadQueue() {
  let answer;
  try {
    answer = await api("reviews");
  } catch (error) {
    $("who").textContent = error.status === 403 ? `not in scope: ${error.message}` : error.message;
    throw error;
  }
  const { reviews } = answer;
  signedIn(answer.signed_in);
  const list = $("reviews");
  list.replaceChildren();
  $("empty").hidden = reviews.length > 0;
  for (const review of reviews) {
    const item = document.createElement("li");
    item.dataset.reviewId = review.review_id;
    item.append(text("strong", `${review.subject_kind} ${review.subject_id}`), document.createElement("br"));
    const confidence = review.confidence === null ? "" : `${Math.round(review.confidence * 100)}% · `;
    item.append(text("span", `${review.flow} · ${confidence}`));
    item.append(text("span", `risk ${review.risk}`, `risk-${review.risk}`));
    if (review.escalation) item.append(text("span", " · escalated"));
    if (review.role) item.append(text("span", ` · needs ${review.role}`));
    if (review.approvals_needed > 1) item.append(text("span", ` · ${approvals(review)}`, "four-eyes"));
    item.addEventListener("click", () => show(review.review_id));
    list.append(item);
  }
}

function highlight(container, body, spans) {
  container.replaceChildren();
  let last = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    if (span.start < last) continue;
    container.append(document.createTextNode(body.slice(last, span.start)), text("mark", body.slice(span.start, span.end)));
    last = span.end;
  }
  container.append(document.createTextNode(body.slice(last)));
}

// A detail as a person reads it: a list one item a line, an object as "key: value" pairs.
const pairs = (item) => (item && typeof item === "object" && !Array.isArray(item)
  ? Object.entries(item).map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join(" · ")
  : typeof item === "string" ? item : JSON.stringify(item));
const shown = (value) => (Array.isArray(value) ? value.map(pairs).join("\n") || "(none)" : pairs(value));

// Four eyes: who approved so far, and how many approvals are still needed.
function approvals({ approvals_needed: needed, approved_by: approvedBy }) {
  const still = needed - approvedBy.length;
  const who = approvedBy.length ? `approved by ${approvedBy.join(", ")}` : "no approval yet";
  return `${who}; ${still} more approval${still === 1 ? "" : "s"} needed, from another reviewer`;
}

async function show(reviewId) {
  const review = await api(`reviews/${reviewId}`);
  current = review;
  for (const li of $("reviews").children) li.classList.toggle("selected", li.dataset.reviewId === reviewId);
  const details = review.details;
  const subject = details.subject;
  const fields = details.fields || {};
  $("review").hidden = false;
  $("doc-title").textContent = subject.title || details.document?.title || subject.id;
  const needs = review.role ? ` · needs the ${review.role} role` : "";
  $("doc-meta").textContent = `${subject.kind} ${subject.id} · tenant ${subject.tenant} · flow ${details.flow} · step ${details.step} · review ${reviewId}${needs}`;
  const body = details.document
    ? details.document.text || "(the text is in S3: " + JSON.stringify(details.document.text_ref) + ")"
    : "";
  highlight($("doc-text"), body, Object.values(fields).map((f) => f.evidence));
  $("summary").textContent = details.summary || "";
  $("confidence").hidden = details.confidence === null;
  $("confidence").value = details.confidence ?? 0;
  $("confidence-text").textContent = details.confidence === null
    ? `risk ${details.risk}` : `${Math.round(details.confidence * 100)}% confident · risk ${details.risk}`;
  $("subject-evidence").replaceChildren(...(details.evidence || []).map((e) => text("li", e)));
  $("findings").replaceChildren(...(details.findings.length
    ? details.findings.map((f) => text("li", `${f.kind} (${f.severity}): ${f.detail}`))
    : [text("li", "none")]));
  const rows = Object.entries(fields).map(([name, field]) => {
    const row = document.createElement("tr");
    const input = document.createElement("input");
    input.value = field.value;
    input.dataset.field = name;
    input.dataset.original = field.value;
    input.setAttribute("aria-label", `value of ${name}`);
    const cell = document.createElement("td");
    cell.append(input);
    row.append(text("td", name), cell, text("td", field.evidence.text));
    return row;
  });
  $("fields").tBodies[0].replaceChildren(...rows);
  $("fields-section").hidden = rows.length === 0;
  $("details").replaceChildren(...Object.entries(details.details || {}).flatMap(([name, value]) =>
    [text("dt", name), text("dd", shown(value))]));
  $("proposed").textContent = JSON.stringify(details.proposed_action, null, 2);
  $("four-eyes").hidden = review.approvals_needed <= 1;
  $("four-eyes").textContent = review.approvals_needed > 1 ? `Four eyes: ${review.four_eyes}. ${approvals(review)}.` : "";
  $("reason").value = "";
  $("outcome").textContent = review.status === "PENDING" ? "" : `Already ${review.status.toLowerCase()}.`;
}

async function decide(decision) {
  if (!current) return;
  const edits = {};
  for (const input of document.querySelectorAll("#fields input")) {
    if (input.value !== input.dataset.original) edits[input.dataset.field] = input.value;
  }
  const body = { decision, reason: $("reason").value };
  if (decision === "revise") body.edits = edits;
  try {
    const result = await api(`reviews/${current.review_id}/decision`, { method: "POST", body: JSON.stringify(body) });
    $("outcome").textContent = result.status === "PENDING"
      ? `Approval recorded: ${approvals(result)}.`
      : `Decision recorded: ${result.decision}. The flow goes on.`;
    await loadQueue();
  } catch (error) {
    $("outcome").textContent = error.status === 409 ? `Nothing changed: ${error.message}`
      : error.status === 403 ? `Not yours to decide: ${error.message}` : `Not sent: ${error.message}`;
  }
}

$("approve").addEventListener("click", () => decide("approve"));
$("reject").addEventListener("click", () => decide("reject"));
$("revise").addEventListener("click", () => decide("revise"));
$("refresh").addEventListener("click", () => loadQueue());
loadQueue().catch((error) => { $("outcome").textContent = error.message; });
