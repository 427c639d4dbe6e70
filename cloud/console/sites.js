// The site switcher (docs/sites.md): shown in the header when the caller sees more than one
// site; the lists that take `?site=` are then filtered by the site chosen (none: every site).

import { h } from './dom.js';
import { t } from './i18n.js';

const SITE_KEY = 'plantroom.site';
// the lists that take ?site= (not one record's page: /api/work-orders/42 has no filter)
const BY_SITE = /^\/api\/(work-orders|alarms|equipment|incidents|requests|kpis|pm\/schedules)(\?|$)/;

let known = []; // the caller's sites, as /api/sites last said

export const siteFilter = {
  get site() {
    return sessionStorage.getItem(SITE_KEY);
  },
  set(site) {
    if (site) sessionStorage.setItem(SITE_KEY, site);
    else sessionStorage.removeItem(SITE_KEY);
  },
};

// `path` with the chosen site, when it is a list that takes one.
export function withSite(path) {
  const site = siteFilter.site;
  if (!site || !BY_SITE.test(path) || /[?&]site=/.test(path)) return path; // one named its own
  return `${path}${path.includes('?') ? '&' : '?'}site=${encodeURIComponent(site)}`;
}

// Whether a change of this site belongs in the lists shown (one of no site: always).
export function shown(site) {
  const chosen = siteFilter.site;
  return !chosen || !site || site === chosen;
}

// Whether the caller sees more than one site: lists then say which site a thing is at.
export const severalSites = () => known.length > 1;

// The name of site `id` as the caller's sites give it (else the id).
export const siteName = (id) => known.find((s) => s.id === id)?.name ?? id;

// The console's address of an equipment's page: with its site, as an id is unique within its
// site only (an address without one still opens where the caller sees the id at one site).
export function equipmentHref(id, site) {
  const path = `#/equipment/${encodeURIComponent(id)}`;
  return site ? `${path}?site=${encodeURIComponent(site)}` : path;
}

// An equipment's id as lists show it: with its site's name when the caller sees several.
export function equipmentLabel(id, site) {
  return site && severalSites() ? t('site.equipment', { id, site: siteName(site) }) : id;
}

// A link to an equipment's page, labelled with its id (and site, where lists need it).
export const equipmentLink = (id, site) => h('a', { href: equipmentHref(id, site) }, equipmentLabel(id, site));

// Fill the header's switcher with the caller's sites; `onChange` after a choice. A chosen
// site the caller no longer sees is forgotten.
export function showSwitcher(select, sites, onChange) {
  known = sites;
  if (!sites.some((s) => s.id === siteFilter.site)) siteFilter.set(null);
  select.hidden = sites.length < 2;
  if (select.hidden) return;
  select.replaceChildren(
    h('option', { value: '' }, t('site.all')),
    ...sites.map((s) => h('option', { value: s.id }, s.name ?? s.id)),
  );
  select.value = siteFilter.site ?? '';
  select.onchange = () => {
    siteFilter.set(select.value || null);
    onChange();
  };
}

export function hideSwitcher(select) {
  known = [];
  select.hidden = true;
  select.replaceChildren();
  select.onchange = null;
}
