// What the console keeps on the device (IndexedDB, database "plantroom"): the last answer to
// each API read it made (`reads`), so that jobs, their checklists and equipment pages open
// without signal; and the actions waiting to be sent (`outbox`, see outbox.js).

const DB_NAME = 'plantroom';
const DB_VERSION = 1;
export const MAX_READS = 300; // answers kept; the oldest read goes first

let opening = null;

export function db() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const reads = request.result.createObjectStore('reads', { keyPath: 'path' });
        reads.createIndex('at', 'at');
        const outbox = request.result.createObjectStore('outbox', { keyPath: 'id', autoIncrement: true });
        outbox.createIndex('user', 'user');
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// Run `work(store)` in a transaction on `name`; resolves to what `work` resolved to once the
// transaction has committed.
export async function within(name, mode, work) {
  const tx = (await db()).transaction(name, mode);
  const finished = new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  const result = await work(tx.objectStore(name), done);
  await finished;
  return result;
}

// The API's answer to GET `path` as last read on this device, or undefined.
export async function savedRead(path) {
  try {
    const row = await within('reads', 'readonly', (store, ok) => ok(store.get(path)));
    return row?.data;
  } catch {
    return undefined;
  }
}

export async function saveRead(path, data) {
  try {
    await within('reads', 'readwrite', async (store, ok) => {
      await ok(store.put({ path, data, at: Date.now() }));
      const count = await ok(store.count());
      if (count <= MAX_READS) return;
      const cursor = store.index('at').openKeyCursor();
      let extra = count - MAX_READS;
      await new Promise((resolve, reject) => {
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c || extra <= 0) return resolve();
          store.delete(c.primaryKey);
          extra -= 1;
          c.continue();
        };
        cursor.onerror = () => reject(cursor.error);
      });
    });
  } catch (error) {
    console.warn('plantroom: could not keep a copy of', path, error);
  }
}

// Forget every saved read (on signing out: the next user must not see them).
export async function forgetReads() {
  try {
    await within('reads', 'readwrite', (store, ok) => ok(store.clear()));
  } catch (error) {
    console.warn('plantroom: could not clear the saved reads', error);
  }
}
