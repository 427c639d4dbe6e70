// The console's words and formats. Every user-visible string goes through t("key"), looked up
// in a JSON catalog (i18n/en.json; i18n/zh-CN.json); a missing key falls back to English,
// then to the key itself, and `{name}` in a string is filled from `vars`. Times are shown in
// the site's time zone (useTimeZone, from the profile) and numbers and dates the language's
// way (Intl).
//
// The language: the one last chosen or shown on this device, else the browser's first one we
// have (zh* -> zh-CN), else English. Once signed in, the profile's language wins when the
// person chose it (app.js); `<html lang>` follows.

const LANG_KEY = 'plantroom.lang';
export const LANGUAGES = ['en', 'zh-CN'];

function known(tag) {
  const low = String(tag ?? '').toLowerCase();
  if (low.startsWith('zh')) return 'zh-CN';
  if (low.startsWith('en')) return 'en';
  return null;
}

function stored() {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null; // storage refused (private mode): the browser's language
  }
}

export const lang = [stored(), ...(navigator.languages ?? [navigator.language])].map(known).find(Boolean) ?? 'en';
export const otherLanguage = LANGUAGES.find((l) => l !== lang);
// Dates and numbers: the browser's own variant of the language (en-GB's 24-hour clock), if any.
const locale = (navigator.languages ?? [navigator.language]).find((tag) => known(tag) === lang) ?? lang;
document.documentElement.lang = lang;

// The profile's code of a console language (users.language: "en" or "zh"), and back.
export const profileCode = (language) => (language === 'zh-CN' ? 'zh' : 'en');
export const fromProfile = (code) => known(code) ?? 'en';
// The installed app's name and description in this language too (the page links the
// manifest without one, which the service answers in the browser's language).
document.querySelector('link[rel="manifest"]')?.setAttribute('href', `/manifest.webmanifest?lang=${profileCode(lang)}`);

// Keep `language` for this device; true when it was kept (the page may then load again in it).
export function remember(language) {
  try {
    localStorage.setItem(LANG_KEY, language);
    return localStorage.getItem(LANG_KEY) === language;
  } catch {
    return false;
  }
}

async function catalog(name) {
  try {
    const response = await fetch(`/console/i18n/${name}.json`, { cache: 'no-cache' });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

const english = await catalog('en');
const chosen = lang === 'en' ? english : await catalog(lang);

export function t(key, vars = {}) {
  const text = chosen[key] ?? english[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// A refusal of the service for the reader: in another language than English, its code's words
// from the catalog, with the service's own sentence (which names the field, the line, the
// limit) after them; in English, or for a code the catalog lacks, the service's sentence.
export function refusal(code, message) {
  const key = `api_error.${code}`;
  if (lang === 'en' || !(key in chosen)) return message;
  return message ? `${chosen[key]}（${message}）` : chosen[key];
}

// A value of one of the service's lists (a status, a priority, an event...) in words:
// `family.value` from the catalog, else the value itself with spaces for underscores.
export function term(family, value) {
  const key = `${family}.${value}`;
  return key in english ? t(key) : String(value ?? '').replaceAll('_', ' ');
}

// -- times, in the site's time zone ---------------------------------------------------------

let zone; // the site's IANA time zone; undefined: the browser's own
const formats = new Map();

export function useTimeZone(name) {
  try {
    new Intl.DateTimeFormat(locale, { timeZone: name });
    zone = name;
  } catch {
    zone = undefined; // a zone this browser does not know: its own
    console.warn('plantroom: unknown time zone', name);
  }
  formats.clear();
}

export const timeZone = () => zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;

function format(name, options, tag = locale) {
  if (!formats.has(name)) formats.set(name, new Intl.DateTimeFormat(tag, { ...options, timeZone: zone }));
  return formats.get(name);
}

const asDate = (value) => (value instanceof Date ? value : new Date(value));

const dayKey = (date) => format('key', { year: 'numeric', month: '2-digit', day: '2-digit' }, 'en-CA').format(date);

// Today's date at the site, "YYYY-MM-DD" (the browser's own date or UTC's may be another).
export const siteToday = () => dayKey(new Date());

// The time of day when `value` is today at the site, else the day and the time.
export function clockTime(value) {
  const date = asDate(value);
  if (dayKey(date) === dayKey(new Date())) return format('time', { hour: '2-digit', minute: '2-digit' }).format(date);
  return format('dayTime', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(date);
}

export const hourMinute = (value) => format('time', { hour: '2-digit', minute: '2-digit' }).format(asDate(value));
export const dayMonth = (value) => format('day', { month: 'short', day: 'numeric' }).format(asDate(value));

// "YYYY-MM-DDTHH:MM" of `date` at the site, for an <input type="datetime-local">.
export function toInput(date) {
  const parts = format('input', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }, 'en-CA').formatToParts(date);
  const p = Object.fromEntries(parts.map((part) => [part.type, part.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

// The instant a datetime-local value names at the site (two passes settle a clock change).
export function fromInput(value) {
  const wall = Date.parse(`${value}:00Z`);
  let guess = wall;
  for (let i = 0; i < 2; i += 1) guess += wall - Date.parse(`${toInput(new Date(guess))}:00Z`);
  return new Date(guess);
}

// -- numbers and units ----------------------------------------------------------------------

const numbers = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });

export const formatNumber = (value) => numbers.format(value);

// A canonical unit (pint syntax, plantroom/canonical.py) as people write it; none for "1".
export function unitText(unit) {
  if (!unit || unit === '1') return '';
  return term('unit', unit);
}

// A number with its unit: "3.2 bar", "45 °C", "80%".
export function withUnit(value, unit) {
  const text = unitText(unit);
  if (!text) return formatNumber(value);
  return t('unit.value', { value: formatNumber(value), unit: text });
}
