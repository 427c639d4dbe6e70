// A service too busy to take a request answers 503 with `Retry-After`, before doing anything
// for it. The request is asked again after the time given and up to as long again, at random
// (so that the requests of one page do not all come back at once), at most RETRIES times.
// The console's requests (api.js) and the public report and tracking pages (patientFetch)
// both wait this way, so that nobody is told something failed, or that a reference is
// unknown, because the service was busy for a second.
export const RETRIES = 5;
const MAX_RETRY_AFTER_S = 10;

// The wait before asking again, for a `Retry-After` of `seconds`.
export function waitToAskAgain(seconds) {
  const ms = Math.min(seconds, MAX_RETRY_AFTER_S) * 1000 * (1 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// fetch, asking again while the answer is a 503 with `Retry-After`; the last answer is
// returned as it came.
export async function patientFetch(url, options = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, options);
    const wait = Number(response.headers.get('Retry-After'));
    if (response.status !== 503 || !(wait > 0) || attempt >= RETRIES) return response;
    await waitToAskAgain(wait);
  }
}
