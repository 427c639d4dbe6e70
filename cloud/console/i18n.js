// The console's words: every user-visible string of the job's work goes through t("key"),
// looked up in a JSON catalog (i18n/en.json; i18n/zh-CN.json). A missing key falls back to
// English, then to the key itself. `{name}` in a string is filled from `vars`.

const LANG_KEY = 'plantroom.lang';
const CATALOGS = { en: 'en', zh: 'zh-CN', 'zh-cn': 'zh-CN' };

async function catalog(name) {
  try {
    const response = await fetch(`/console/i18n/${name}.json`, { cache: 'no-cache' });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

export const lang = CATALOGS[(localStorage.getItem(LANG_KEY) ?? 'en').toLowerCase()] ?? 'en';
const english = await catalog('en');
const chosen = lang === 'en' ? english : await catalog(lang);

export function t(key, vars = {}) {
  const text = chosen[key] ?? english[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
