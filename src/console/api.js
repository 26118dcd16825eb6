// The console's only way to the service: the public API, with the editor's key as a bearer token.
// The key lives in sessionStorage (this tab only, gone when it closes) and never in a cookie, so
// other sites cannot make the browser act with it (no CSRF), and nothing here is private API.

const KEY_STORAGE = 'marginalia.console.key';
// Answers 503 while PostgreSQL is unreachable; the console keeps trying rather than failing.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 8000, 8000];

export const session = {
  get key() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  },
  /** { name, scopes } of the signed-in key, from GET /v1/me. */
  me: null,
  get isAdmin() {
    return Boolean(this.me?.scopes.includes('admin'));
  },
};

/** A failed call. `status` is 0 when no answer came; `problem` is the RFC 9457 document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || null;
  }
}

// Listeners for the shell: a 401 means the key was revoked (sign in again); `outage` reports
// 'database' while 503s are being retried, 'offline' when no answer came, and null once one did.
const listeners = { unauthorized: [], outage: [] };
export const on = (event, listener) => listeners[event].push(listener);
const emit = (event, value) => listeners[event].forEach((listener) => listener(value));

const wait = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/** Calls the API. `query` members that are empty are left out; `body` goes as JSON; `as` is
 * 'json' (default), 'blob' or 'none'. `key` overrides the session's (for signing in). */
export async function api(path, { method = 'GET', query, body, as = 'json', signal, key } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  const headers = { Accept: as === 'blob' ? '*/*' : 'application/json' };
  const token = key ?? session.key;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const init = {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
    signal,
  };

  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      if (signal?.aborted) throw error;
      emit('outage', 'offline');
      throw new ApiError(0, null);
    }
    if (response.status === 503 && attempt < RETRY_DELAYS_MS.length) {
      emit('outage', 'database');
      await wait(RETRY_DELAYS_MS[attempt], signal);
      continue;
    }
    emit('outage', null);
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      const error = new ApiError(response.status, problem);
      // A sign-in attempt (its own key) handles its 401 itself; elsewhere it ends the session.
      if (response.status === 401 && key === undefined) emit('unauthorized', error);
      throw error;
    }
    if (as === 'none' || response.status === 204) return null;
    return as === 'blob' ? response.blob() : response.json();
  }
}

/** Sends a moderation action; resolves with { action, changed: [{ id, from, to }], unchanged }. */
export const moderate = (action, reviewIds, note) =>
  api('/v1/moderation/actions', {
    method: 'POST',
    body: note ? { action, review_ids: reviewIds, note } : { action, review_ids: reviewIds },
  });

/** The action that puts a review back where `from` says it was, given where it is now (`to`). */
export function inverseAction(from, to) {
  if (from === 'published') return 'approve';
  if (from === 'pending') return to === 'published' ? 'hold' : 'restore';
  if (from === 'rejected') return 'reject';
  if (from === 'spam') return 'spam';
  return null; // deleted is final
}

/** Actions a review can take, in the order the console offers them: by its status, and
 * `dismiss_flags` ("keep published") for a published review readers flagged. */
export function allowedActions({ status, flag_count: flags = 0 }) {
  const byStatus = {
    pending: ['approve', 'reject', 'spam', 'delete'],
    published: ['hold', 'reject', 'spam', 'delete'],
    rejected: ['approve', 'restore', 'spam', 'delete'],
    spam: ['approve', 'restore', 'reject', 'delete'],
  }[status] || [];
  return status === 'published' && flags > 0 ? ['dismiss_flags', ...byStatus] : byStatus;
}

/** Whether an action can be undone: deletion is final, and dismissed flags are deleted. */
export const undoable = (action) => action !== 'delete' && action !== 'dismiss_flags';
