// The public report page, /report/<location code>?site=<site>: no sign-in; the code in the
// address prefills where (an equipment id is unique within its site only: the label names the
// site); the form goes to POST /api/public/requests with an optional photo.
import { patientFetch } from './busy.js';
import { chooseLang, loadCatalog, other, remember, t, translate } from './public_i18n.js';

const $ = (id) => document.getElementById(id);
const code = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const site = new URLSearchParams(location.search).get("site")?.slice(0, 64) || null;
let lang = chooseLang();
let catalog = {};
let place = null;

function showWhere() {
  const where = $("where");
  if (!place) {
    where.textContent = t(catalog, "report.where.unknown");
    return;
  }
  where.textContent = place.equipment_id
    ? t(catalog, "report.where.equipment", {
      name: place.equipment_name || place.equipment_id, building: place.building })
    : t(catalog, "report.where.building", { building: place.building });
}

function fillCategories() {
  const select = $("category");
  const chosen = select.value || place?.category || "other";
  select.replaceChildren();
  for (const name of place?.categories || ["other"]) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = t(catalog, `report.category.${name}`);
    select.append(option);
  }
  select.value = chosen;
}

async function render() {
  catalog = await loadCatalog(lang);
  translate(document, catalog, lang);
  document.title = t(catalog, "report.title");
  $("lang").textContent = t(catalog, "report.language");
  showWhere();
  fillCategories();
}

function requireContact() {
  const contact = place?.contact || "phone_or_email";
  $("name").required = place ? place.name_required : true;
  $("name-opt").hidden = $("name").required;
  $("phone").required = contact === "phone";
  $("email").required = contact === "email";
}

function fail(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

async function send(event) {
  event.preventDefault();
  $("error").hidden = true;
  const form = new FormData($("form"));
  if (!$("photo").files.length) form.delete("photo");
  form.set("lang", lang);
  const at = site || place?.site; // the label's site, else the one the code was found at
  if (at) form.set("site", at);
  $("send").disabled = true;
  $("send").textContent = t(catalog, "report.sending");
  try {
    const response = await patientFetch("/api/public/requests", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (response.status === 201) {
      $("form").hidden = true;
      $("reference").textContent = body.reference;
      $("track").href = `/track/${encodeURIComponent(body.reference)}?lang=${lang}`;
      $("done").hidden = false;
      return;
    }
    if (response.status === 429) {
      const minutes = Math.ceil(Number(response.headers.get("Retry-After") || 60) / 60);
      fail(t(catalog, "report.error.busy", { minutes }));
    } else {
      fail(t(catalog, "report.error", { message: body.error?.message || response.status }));
    }
  } catch {
    fail(t(catalog, "report.error.network"));
  } finally {
    $("send").disabled = false;
    $("send").textContent = t(catalog, "report.send");
  }
}

function preview() {
  const file = $("photo").files[0];
  const img = $("preview");
  if (!file) { img.hidden = true; return; }
  const reader = new FileReader();
  reader.onload = () => { img.src = reader.result; img.hidden = false; };
  reader.readAsDataURL(file);
}

async function start() {
  $("code").value = code;
  $("lang").addEventListener("click", async () => {
    lang = other(lang);
    remember(lang);
    await render();
  });
  $("form").addEventListener("submit", send);
  $("photo").addEventListener("change", preview);
  const query = site ? `?site=${encodeURIComponent(site)}` : "";
  const response = await patientFetch(`/api/public/locations/${encodeURIComponent(code)}${query}`);
  place = response.ok ? await response.json() : null;
  requireContact();
  $("send").disabled = !place;
  await render();
}

start();
