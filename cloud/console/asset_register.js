// The asset register on the equipment pages: the register fields of any equipment (make,
// model, serial, dates, supplier, documents), the form a supervisor or an admin changes them
// with, and on the list a form to add a register-only asset and the register as a CSV file.

import { ApiError, api, auth } from './api.js';
import { announce, clearError, h, showError } from './dom.js';
import { refusal, siteToday, t, term } from './i18n.js';
import { equipmentHref } from './sites.js';

const OFFICE = new Set(['supervisor', 'admin']);
const DOCUMENT = /^(.*?)\s*<([^<>\s]+)>\s*$/;
const TEXT_FIELDS = ['make', 'model', 'serial', 'supplier'];
const PLACE_FIELDS = ['name', 'floor', 'zone'];

// The register's facts of `e` for the page's <dl>: only those registered.
export function registerFacts(e) {
  const fact = (name, ...value) => [h('dt', {}, name), h('dd', {}, ...value)];
  const out = [];
  if (!e.connected) out.push(...fact(t('assets.connection'), t('assets.register_only')));
  const made = [e.make, e.model].filter(Boolean).join(' ');
  if (made) out.push(...fact(t('assets.make_model'), made));
  if (e.serial) out.push(...fact(t('assets.serial'), e.serial));
  if (e.install_date) out.push(...fact(t('assets.install_date'), e.install_date));
  if (e.warranty_end) {
    const expired = e.warranty_end < siteToday(); // expired from the day after, at the site
    out.push(...fact(t('assets.warranty_end'), e.warranty_end, expired ? ` (${t('assets.expired')})` : ''));
  }
  if (e.supplier) out.push(...fact(t('assets.supplier'), e.supplier));
  if (e.documents.length) {
    const links = e.documents.map((d) =>
      h('li', {}, h('a', { href: d.url, target: '_blank', rel: 'noopener noreferrer' }, d.title)),
    );
    out.push(...fact(t('assets.documents'), h('ul', { class: 'documents' }, links)));
  }
  return out;
}

function parseDocuments(text) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const match = DOCUMENT.exec(line);
      if (!match) throw new Error(t('assets.document_format', { line }));
      return { title: match[1], url: match[2] };
    });
}

// `?site=` of `e`'s site: the register's id is unique within its site only.
const atSite = (e) => (e.site ? `?site=${encodeURIComponent(e.site)}` : '');

const field = (id, text, input) => h('div', { class: 'field' }, h('label', { for: id }, text), input);

// A supervisor's or an admin's form to change `e`'s register (and the place of a register-only
// asset), with a button to retire a register-only one; null for anyone else.
export function registerEditor(e, user, saved) {
  if (!OFFICE.has(user.role)) return null;
  const inputs = {};
  const names = [...(e.connected ? [] : PLACE_FIELDS), ...TEXT_FIELDS];
  for (const name of names) {
    inputs[name] = h('input', { id: `reg-${name}`, name, maxlength: name === 'floor' ? 32 : 128, value: e[name] ?? '' });
  }
  for (const name of ['install_date', 'warranty_end']) {
    inputs[name] = h('input', { id: `reg-${name}`, name, type: 'date', value: e[name] ?? '' });
  }
  const documents = h('textarea', { id: 'reg-documents', name: 'documents', rows: 3 });
  documents.value = e.documents.map((d) => `${d.title} <${d.url}>`).join('\n');
  const form = h(
    'form',
    { class: 'register' },
    ...Object.entries(inputs).map(([name, input]) => field(input.id, t(`assets.field.${name}`), input)),
    field(documents.id, t('assets.field.documents'), documents),
    h('p', { class: 'hint' }, t('assets.document_hint')),
    h('button', { type: 'submit', class: 'primary' }, t('assets.save')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const body = { documents: parseDocuments(documents.value) };
      for (const [name, input] of Object.entries(inputs)) body[name] = input.value.trim() || null;
      const changed = await api(`/api/assets/${encodeURIComponent(e.id)}${atSite(e)}`, { method: 'PATCH', body });
      announce(t('assets.saved'));
      saved(changed);
    } catch (err) {
      showError(err.message);
    }
  });
  const box = h('details', { class: 'register-box' }, h('summary', {}, t('assets.edit')), form);
  if (!e.connected && e.in_inventory) {
    const retire = h('button', { type: 'button' }, t('assets.retire'));
    retire.addEventListener('click', async () => {
      if (!window.confirm(t('assets.retire_confirm', { id: e.id }))) return;
      try {
        await api(`/api/assets/${encodeURIComponent(e.id)}/retire${atSite(e)}`, { method: 'POST' });
        announce(t('assets.retired'));
        location.hash = '#/equipment';
      } catch (err) {
        showError(err.message);
      }
    });
    box.append(retire);
  }
  return h('section', { 'aria-labelledby': 'register-h' }, h('h2', { id: 'register-h' }, t('assets.heading')), box);
}

async function csv(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${auth.token}` };
  if (body !== undefined) headers['Content-Type'] = 'text/csv';
  const response = await fetch(path, { method, headers, body, cache: 'no-store' });
  if (response.ok) return response;
  const error = (await response.json().catch(() => null))?.error ?? {};
  throw new ApiError(response.status, error.code ?? 'http_error', refusal(error.code, error.message ?? `HTTP ${response.status}`));
}

async function download() {
  const response = await csv('/api/assets.csv');
  const link = h('a', { href: URL.createObjectURL(await response.blob()), download: 'assets.csv' });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(link.href);
}

function importForm(changed) {
  const file = h('input', { id: 'assets-file', type: 'file', accept: '.csv,text/csv', required: true });
  const dry = h('input', { id: 'assets-dry', type: 'checkbox' });
  const outcome = h('pre', { class: 'import-outcome', role: 'status' });
  const form = h(
    'form',
    { class: 'import' },
    field(file.id, t('assets.import_file'), file),
    h('div', { class: 'field check' }, dry, h('label', { for: dry.id }, t('assets.dry_run'))),
    h('button', { type: 'submit' }, t('assets.import')),
    outcome,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const query = new URLSearchParams({ filename: chosen.name.slice(-128), dry_run: String(dry.checked) });
    try {
      const response = await csv(`/api/assets/import?${query}`, { method: 'POST', body: chosen });
      const r = await response.json();
      const vars = { rows: r.rows, created: r.created.length, updated: r.updated.length, unchanged: r.unchanged };
      outcome.textContent = t(r.dry_run ? 'assets.import_checked' : 'assets.imported', vars);
      clearError();
      if (!r.dry_run) changed();
    } catch (err) {
      outcome.textContent = err.message; // every bad row, FILE:LINE: field: problem
      showError(t('assets.import_refused'));
    }
  });
  return form;
}

async function addForm() {
  const kinds = (await api('/api/asset-kinds')).filter((k) => !k.connected);
  const id = h('input', { id: 'asset-id', required: true, maxlength: 64 });
  const kind = h('select', { id: 'asset-kind', required: true }, kinds.map((k) => h('option', { value: k.id }, term('kind', k.id))));
  const building = h('input', { id: 'asset-building', required: true, maxlength: 64 });
  const name = h('input', { id: 'asset-name', maxlength: 128 });
  const floor = h('input', { id: 'asset-floor', maxlength: 32 });
  const form = h(
    'form',
    { class: 'add-asset' },
    field(id.id, t('assets.field.id'), id),
    field(kind.id, t('assets.field.kind'), kind),
    field(building.id, t('assets.field.building'), building),
    field(name.id, t('assets.field.name'), name),
    field(floor.id, t('assets.field.floor'), floor),
    h('button', { type: 'submit', class: 'primary' }, t('assets.add')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { id: id.value.trim(), kind: kind.value, building: building.value.trim() };
    if (name.value.trim()) body.name = name.value.trim();
    if (floor.value.trim()) body.floor = floor.value.trim();
    try {
      const created = await api('/api/assets', { method: 'POST', body });
      announce(t('assets.added', { id: created.id }));
      location.hash = equipmentHref(created.id, created.site);
    } catch (err) {
      showError(err.message);
    }
  });
  return form;
}

// The list page's register tools for a supervisor or an admin; null for anyone else.
export function assetTools(user, changed) {
  if (!OFFICE.has(user.role)) return null;
  const add = h('details', { class: 'register-box' }, h('summary', {}, t('assets.add_heading')));
  add.addEventListener(
    'toggle',
    () => {
      addForm()
        .then((form) => add.append(form))
        .catch((err) => showError(err.message));
    },
    { once: true },
  );
  const exporter = h('button', { type: 'button' }, t('assets.export'));
  exporter.addEventListener('click', () => download().catch((err) => showError(err.message)));
  return h(
    'section',
    { 'aria-labelledby': 'assets-h' },
    h('h2', { id: 'assets-h' }, t('assets.register')),
    add,
    h('details', { class: 'register-box' }, h('summary', {}, t('assets.import_heading')), importForm(changed)),
    exporter,
  );
}

// What the list shows of a register-only asset where connected equipment shows its status.
export const registerOnlyNote = () => h('span', { class: 'badge' }, t('assets.no_connection'));
