// The console's only way to the service: the public API, with the editor's key as a bearer token.
// The key lives in sessionStorage (this tab only, gone when it closes) and never in a cookie, so
// other sites cannot make the browser act with it (no CSRF), and nothing here is private API.

import { ACTIONS, TRANSITIONS } from './transitions.js';

/** @typedef {import('./transitions.js').Status} Status */
/** @typedef {import('./transitions.js').Action} Action */
/** @typedef {{ name: string, scopes: string[], sites?: string[] | null }} Me The signed-in key, from GET /v1/me. */
/** @typedef {{ site_id: string, name: string }} Site A site the key serves, from GET /v1/sites. */
/** @typedef {{ reason: string, note?: string | null, created_at: string }} Flag */
/** @typedef {{ author: string, body: string }} Reply */
/**
 * A review as moderators see it (GET /v1/moderation/queue).
 * @typedef {object} Review
 * @property {string} id
 * @property {Status} status
 * @property {string} article_id
 * @property {string | null} [article_title]
 * @property {number | null} rating stars; null for feedback without (imported comments, or a site's
 *   `unrated_reviews`)
 * @property {string | null} [in_reply_to] the review of the same article this one answers (kept
 *   from an imported comment thread)
 * @property {string | null} [title]
 * @property {string} body
 * @property {string | null} [author_name]
 * @property {string | null} [author_email]
 * @property {string | null} [language]
 * @property {string} created_at
 * @property {string | null} [edited_at]
 * @property {string | null} [erased_at]
 * @property {string[]} reasons
 * @property {Flag[]} [flags]
 * @property {number} flag_count
 * @property {number} helpful_count
 * @property {number} unhelpful_count
 * @property {Reply | null} [reply]
 * @property {boolean} [verified] written by a reader the site's own login vouched for
 * @property {string[]} [badges] the badges the site gave that reader (lowercase slugs)
 * @property {string | null} [reader_id] the id the site's login knows the author by (moderators
 *   only; null: anonymous)
 */
/** @typedef {{ id: string, from: Status, to: Status }} Change */
/** @typedef {{ action: Action, changed: Change[], unchanged: number }} ModerationResult */
/**
 * A page of a list: its items, and the cursor of the next page (null on the last).
 * @template T
 * @typedef {{ items: T[], next_cursor: string | null }} Page
 */
/** @typedef {{ detail?: string, title?: string, [member: string]: unknown }} Problem RFC 9457 */

const KEY_STORAGE = 'marginalia.console.key';
const SITE_STORAGE = 'marginalia.console.site';
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
  /** The signed-in key, from GET /v1/me. @type {Me | null} */
  me: null,
  /** The sites the key serves, from GET /v1/sites. @type {Site[]} */
  sites: [],
  /** The site the console works on (this tab only); the default site's API when none. */
  get site() {
    return sessionStorage.getItem(SITE_STORAGE);
  },
  set site(value) {
    if (value) sessionStorage.setItem(SITE_STORAGE, value);
    else sessionStorage.removeItem(SITE_STORAGE);
  },
  get isAdmin() {
    return Boolean(this.me?.scopes.includes('admin'));
  },
};

/** A failed call. `status` is 0 when no answer came; `problem` is the RFC 9457 document. */
export class ApiError extends Error {
  /** @param {number} status @param {Problem | null} [problem] */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || null;
  }
}

/** Whether a call failed because its signal was aborted (its view or list went away).
 * @param {unknown} error */
export const isAbort = (error) => error instanceof Error && error.name === 'AbortError';

// Listeners for the shell: a 401 means the key was revoked (sign in again); `outage` reports
// 'database' while 503s are being retried, 'offline' when no answer came, and null once one did.
/** @typedef {{ unauthorized: ApiError, outage: 'database' | 'offline' | null }} Events */
/** @type {{ [E in keyof Events]: ((value: Events[E]) => void)[] }} */
const listeners = { unauthorized: [], outage: [] };
/** @template {keyof Events} E @param {E} event @param {(value: Events[E]) => void} listener */
export const on = (event, listener) => listeners[event].push(listener);
/** @template {keyof Events} E @param {E} event @param {Events[E]} value */
const emit = (event, value) => listeners[event].forEach((listener) => listener(value));

/** @param {number} ms @param {AbortSignal} [signal] @returns {Promise<void>} */
const wait = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/**
 * @typedef {object} CallOptions
 * @property {string} [method]
 * @property {Record<string, string | number | null | undefined>} [query]
 * @property {unknown} [body]
 * @property {'json' | 'blob' | 'none'} [as]
 * @property {AbortSignal} [signal]
 * @property {string} [key]
 */

/** The URL of an API path on the tab's site: a site's API is under /sites/{site}/v1/…; the
 * installation's own paths are the same for all. @param {string} path */
export function apiUrl(path) {
  const installation = path === '/v1/me' || path.startsWith('/v1/sites');
  const site = session.site;
  return new URL(site && !installation ? `/sites/${encodeURIComponent(site)}${path}` : path, location.origin);
}

/** Calls the API. `query` members that are empty are left out; `body` goes as JSON; `as` is
 * 'json' (default), 'blob' or 'none'. `key` overrides the session's (for signing in). The answer
 * is typed by the caller (`T`), as the API documents it.
 * @template [T=unknown]
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<T>} */
export async function api(path, { method = 'GET', query, body, as = 'json', signal, key } = {}) {
  const url = apiUrl(path);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  /** @type {Record<string, string>} */
  const headers = { Accept: as === 'blob' ? '*/*' : 'application/json' };
  const token = key ?? session.key;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  /** @type {RequestInit} */
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
    if (as === 'none' || response.status === 204) return /** @type {T} */ (null);
    return as === 'blob' ? /** @type {Promise<T>} */ (response.blob()) : response.json();
  }
}

/** Loads the sites the signed-in key serves and keeps the tab's choice if it is one of them, else
 * the first (the default site first when the key serves it). */
export async function loadSites() {
  /** @type {{ items: Site[] }} */
  const listed = await api('/v1/sites');
  session.sites = listed.items;
  const ids = listed.items.map((site) => site.site_id);
  if (!session.site || !ids.includes(session.site)) {
    session.site = ids.includes('default') ? 'default' : (ids[0] ?? null);
  }
}

/** Sends a moderation action.
 * @param {Action} action @param {string[]} reviewIds @param {string} [note]
 * @returns {Promise<ModerationResult>} */
export const moderate = (action, reviewIds, note) =>
  api('/v1/moderation/actions', {
    method: 'POST',
    body: note ? { action, review_ids: reviewIds, note } : { action, review_ids: reviewIds },
  });

// What a moderator may do comes from the domain's transition table (transitions.js, generated
// from it); these read it, and restate none of it.

/** The status each action takes a review in `status` to. @param {Status} status */
const movesFrom = (status) => TRANSITIONS[status] ?? {};

/** The action that puts a review back where `from` says it was, given where it is now (`to`):
 * none from a status nothing leaves (deletion is final).
 * @param {Status} from @param {Status} to @returns {Action | null} */
export function inverseAction(from, to) {
  const moves = movesFrom(to);
  return ACTIONS.find((action) => moves[action] === from && from !== to) ?? null;
}

/** Actions that change a review, in the order the console offers them: those that move it to
 * another status, and `dismiss_flags` ("keep published"), which keeps the status and clears the
 * flags, for a review readers flagged.
 * @param {Pick<Review, 'status'> & { flag_count?: number }} review
 * @returns {Action[]} */
export function allowedActions({ status, flag_count: flags = 0 }) {
  const moves = movesFrom(status);
  return ACTIONS.filter((action) => {
    const to = moves[action];
    return to !== undefined && (to !== status || (action === 'dismiss_flags' && flags > 0));
  });
}

/** Whether an action can be undone: it moves reviews, and only to statuses they can leave again.
 * Deletion is final; dismissing flags moves nothing (the flags it deletes cannot come back).
 * @param {Action} action */
export function undoable(action) {
  const landings = Object.entries(TRANSITIONS).flatMap(([from, moves]) => {
    const to = moves[action];
    return to !== undefined && to !== from ? [to] : [];
  });
  return landings.length > 0 && landings.every((to) => Object.values(movesFrom(to)).some((next) => next !== to));
}
