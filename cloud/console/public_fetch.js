// Requests of the public pages (report, track). A request the service turned away because it
// was full (503 with `Retry-After`, answered before anything was done for it) is asked again
// after the time it gave and up to as long again, at random, at most RETRIES times, as the
// console does (api.js); the last answer is returned as it came. An occupant reporting a
// problem is not told their report failed, nor that their reference is unknown, because the
// service was busy for a second.
const RETRIES = 5;
const MAX_RETRY_AFTER_S = 10;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function patientFetch(url, options = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, options);
    const wait = Number(response.headers.get('Retry-After'));
    if (response.status !== 503 || !(wait > 0) || attempt >= RETRIES) return response;
    await pause(Math.min(wait, MAX_RETRY_AFTER_S) * 1000 * (1 + Math.random()));
  }
}
