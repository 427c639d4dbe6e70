// The public pages' language: a catalog per language (i18n/en.json, i18n/zh-CN.json), chosen
// by the toggle (remembered), else `?lang=`, else the browser's languages (Accept-Language).

const LANGS = ["en", "zh-CN"];
const KEY = "plantroom.lang";

export function chooseLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  const saved = (() => { try { return localStorage.getItem(KEY); } catch { return null; } })();
  for (const tag of [asked, saved, ...(navigator.languages || [navigator.language])]) {
    const t = (tag || "").toLowerCase();
    if (t.startsWith("zh")) return "zh-CN";
    if (t.startsWith("en")) return "en";
  }
  return "en";
}

export function remember(lang) {
  try { localStorage.setItem(KEY, lang); } catch { /* private mode: not remembered */ }
}

export function other(lang) {
  return LANGS[(LANGS.indexOf(lang) + 1) % LANGS.length];
}

export async function loadCatalog(lang) {
  const response = await fetch(`/console/i18n/${lang}.json`);
  if (!response.ok) throw new Error(`catalog ${lang}: ${response.status}`);
  return response.json();
}

export function t(catalog, key, params = {}) {
  const text = catalog[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? "-"));
}

// Every element with data-i18n gets its text from the catalog.
export function translate(root, catalog, lang) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(catalog, el.dataset.i18n);
  }
}

export function when(iso, lang) {
  if (!iso) return "-";
  return new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}
