// The tracking page, /track/<reference>: where the repair stands, what happened, and the
// "fixed?" question once the job is resolved.
import { patientFetch } from './busy.js';
import { chooseLang, loadCatalog, other, remember, t, translate, when } from './public_i18n.js';

const $ = (id) => document.getElementById(id);
const reference = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const api = `/api/public/requests/${encodeURIComponent(reference)}`;
let lang = chooseLang();
let catalog = {};
let request = null;

function params(update) {
  const out = { ...update.params };
  for (const key of ["promised", "until"]) if (key in out) out[key] = when(out[key], lang);
  return out;
}

function show() {
  translate(document, catalog, lang);
  document.title = t(catalog, "report.track.title");
  $("lang").textContent = t(catalog, "report.language");
  $("reference").textContent = t(catalog, "report.track.reference", { reference });
  if (!request) return;
  $("request").hidden = false;
  $("stage").textContent = t(catalog, `report.track.stage.${request.stage}`);
  $("stage").dataset.stage = request.stage;
  $("promised").textContent = request.promised_by
    ? t(catalog, "report.track.promised", { date: when(request.promised_by, lang) }) : "";
  $("postponed").textContent = request.postponed_to
    ? t(catalog, "report.track.postponed", {
      date: when(request.postponed_to, lang), reason: request.postpone_reason || "-" }) : "";
  $("reporters").textContent = request.reporters > 1
    ? t(catalog, "report.track.reporters", { count: request.reporters }) : "";
  $("ask").hidden = !request.asking;
  $("answered").hidden = !request.confirmation;
  if (request.confirmation) {
    $("answered").textContent = t(catalog, `report.track.answered.${request.confirmation}`);
  }
  $("what").textContent = request.what;
  const items = request.updates.map((update) => {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = update.at;
    time.textContent = when(update.at, lang);
    li.append(time, t(catalog, `report.update.${update.kind}`, params(update)));
    return li;
  });
  $("history").replaceChildren(...items.reverse());
}

async function load() {
  const response = await patientFetch(api);
  if (response.ok) {
    request = await response.json();
  } else {
    $("error").textContent = t(catalog, "report.track.unknown");
    $("error").hidden = false;
  }
}

async function reply(fixed) {
  const response = await patientFetch(`${api}/answer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ fixed }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    request = body;
  } else {
    $("error").textContent = body.error?.message || String(response.status);
    $("error").hidden = false;
  }
  show();
}

async function start() {
  catalog = await loadCatalog(lang);
  $("lang").addEventListener("click", async () => {
    lang = other(lang);
    remember(lang);
    catalog = await loadCatalog(lang);
    show();
  });
  $("yes").addEventListener("click", () => reply(true));
  $("no").addEventListener("click", () => reply(false));
  await load();
  show();
}

start();
