// The editors' console: the page shell, the hash router, the moderators' live stream (with a
// counts poll while it is down) and the global shortcuts. Views live in views/; each renders into <main> and may handle shortcuts.
// Routes: #/signin, #/queue/{pending|flagged|spam}, #/articles/{id}, #/readers/{reader id}, #/log,
// #/integrations.

import { api, ApiError, loadSites, on, session } from './api.js';
import { announce, focusHeading, h, isTyping, openDialog, uid } from './dom.js';
import { countText, errorText, LANGUAGES, lang, setLang, t } from './i18n.js';
import { openLive } from './live.js';
import { clearToast, undoLast } from './toast.js';
import * as signin from './views/signin.js';
import * as queue from './views/queue.js';
import * as article from './views/article.js';
import * as reader from './views/reader.js';
import * as log from './views/log.js';
import * as integrations from './views/integrations.js';

/** @typedef {import('./api.js').Me} Me */
/** @typedef {{ name: string, parts: string[], params: URLSearchParams }} Route */
/** @typedef {{ pending: number, [queue: string]: number }} Counts from GET /v1/moderation/counts */
/**
 * What a view's `render` is given.
 * @typedef {object} ViewContext
 * @property {Route} route
 * @property {AbortSignal} signal aborted when the view goes
 * @property {() => Promise<void>} refreshCounts
 * @property {string | null} notice why the sign-in page is shown
 * @property {(me: Me) => void} onSignedIn
 * @property {() => Counts | null} counts
 */
/**
 * What a view's `render` returns: its node and title, and what the shell may ask of it.
 * @typedef {object} View
 * @property {HTMLElement} node
 * @property {string} title
 * @property {HTMLElement} [focus] what takes focus when it is shown (else its heading)
 * @property {(route: Route) => boolean | undefined} [update] true when it showed `route` in place
 * @property {() => void} [destroy]
 * @property {(counts: Counts) => void} [counts]
 * @property {() => Promise<void> | void} [poll] looks for new reviews (while the live stream is down, and
 *   to catch up after it was)
 * @property {(type: string, data: any) => void} [live] an event of the moderators' live stream
 *   (`queue.item`, `queue.settled`)
 * @property {(event: KeyboardEvent) => boolean} [key] true when the key was one of its shortcuts
 */

/** @type {Record<string, { render: (context: ViewContext) => View }>} */
const VIEWS = { signin, queue, articles: article, readers: reader, log, integrations };
const HOME = '#/queue/pending';
// While the live stream cannot be opened, the counts are polled this often.
const POLL_MS = 30_000;
// The compact layout is a preference of this browser, like the language (not a secret).
const DENSITY_STORAGE = 'marginalia.console.density';

/**
 * @type {{ view: View | null, viewName: string | null, controller: AbortController | null,
 *   counts: Counts | null, signinNotice: string | null, returnTo: string | null,
 *   pollTimer: ReturnType<typeof setTimeout> | undefined, pollRun: number,
 *   live: { stop: () => void } | null, streaming: boolean, streamed: boolean }}
 */
const state = {
  view: null, // what the current view's render returned
  viewName: null,
  controller: null, // aborted when the view goes, so its late answers are dropped
  counts: null,
  signinNotice: null, // why the sign-in page is shown (revoked key …)
  returnTo: null,
  pollTimer: undefined,
  pollRun: 0,
  live: null, // the moderators' stream, while signed in
  streaming: false, // whether it is open now
  streamed: false, // whether it was open before (an opening after that catches up)
};

/** The shell's parts of the page, which index.html always has. @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @returns {Route} */
function parseRoute() {
  const [path, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', parts: parts.slice(1), params: new URLSearchParams(search) };
}

/** Changes the route; the hashchange listener renders it. */
/** @param {string} hash */
function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// --- the shell -----------------------------------------------------------------------------------

function header() {
  const route = parseRoute();
  const { me } = session;
  const link = (/** @type {string} */ hash, /** @type {string} */ name, /** @type {string} */ label, /** @type {import('./dom.js').Child} */ badge = null) =>
    h(
      'a',
      { href: hash, class: 'nav__link', 'aria-current': route.name === name ? 'page' : null },
      label,
      badge,
    );
  const languageId = uid('language');
  const languageSelect = h(
    'select',
    { id: languageId, onchange: () => changeLanguage(languageSelect.value) },
    Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, lang: code, selected: code === lang() }, name)),
  );
  const pending = state.counts ? h('span', { class: 'nav__badge', id: 'nav-pending' }, countText(state.counts.pending)) : null;
  // The site switcher: only the sites this key serves, and only when there is a choice.
  const siteId = uid('site');
  const siteSelect = h(
    'select',
    { id: siteId, onchange: () => changeSite(siteSelect.value) },
    session.sites.map((site) => h('option', { value: site.site_id, selected: site.site_id === session.site }, site.name)),
  );
  const switcher = me && session.sites.length > 1 ? [h('label', { for: siteId, class: 'sr-only' }, t('site')), siteSelect] : null;
  return [
    h(
      'button',
      { type: 'button', class: 'skip', onclick: () => byId('main').focus() },
      t('skip'),
    ),
    h(
      'div',
      { class: 'shell__bar' },
      h('a', { href: me ? HOME : '#/signin', class: 'brand' }, h('span', { class: 'brand__mark', 'aria-hidden': 'true' }, '❡'), t('brand')),
      me
        ? h(
            'nav',
            { class: 'nav', 'aria-label': t('navLabel') },
            link(HOME, 'queue', t('nav.queue'), pending && [' ', pending]),
            link('#/log', 'log', t('nav.log')),
            link('#/integrations', 'integrations', t('nav.integrations')),
          )
        : null,
      h(
        'div',
        { class: 'shell__tools' },
        switcher,
        h('label', { for: languageId, class: 'sr-only' }, t('language')),
        languageSelect,
        me
          ? h('button', { type: 'button', class: 'button button--small button--quiet shell__compact', 'aria-pressed': String(isCompact()), onclick: toggleCompact }, t('compact'))
          : null,
        me
          ? h('button', { type: 'button', class: 'button button--small button--quiet shell__shortcuts', 'aria-keyshortcuts': '?', onclick: showHelp }, t('shortcuts'))
          : null,
        me ? h('span', { class: 'shell__who' }, me.name, ' · ', me.scopes.join(', ')) : null,
        me ? h('button', { type: 'button', class: 'button button--small', onclick: () => signOut() }, t('signOut')) : null,
      ),
    ),
  ];
}

// --- density -------------------------------------------------------------------------------------

const isCompact = () => localStorage.getItem(DENSITY_STORAGE) === 'compact';

/** The compact layout is a class on <html>: the stylesheet does the rest, so every list follows. */
function applyDensity() {
  document.documentElement.classList.toggle('compact', isCompact());
}

/** @param {MouseEvent & { currentTarget: HTMLElement }} event */
function toggleCompact(event) {
  if (isCompact()) localStorage.removeItem(DENSITY_STORAGE);
  else localStorage.setItem(DENSITY_STORAGE, 'compact');
  applyDensity();
  event.currentTarget.setAttribute('aria-pressed', String(isCompact()));
  announce(t(isCompact() ? 'compactOn' : 'compactOff'));
}

function renderHeader() {
  byId('banner').replaceChildren(...header());
}

/** @param {string} code */
function changeLanguage(code) {
  setLang(code);
  document.documentElement.lang = code;
  renderHeader();
  route({ redraw: true }); // views render their strings once, so they are drawn again
  byId('banner').querySelector('select')?.focus();
  announce(t('languageChanged'));
}

// --- the router ----------------------------------------------------------------------------------

function route({ redraw = false } = {}) {
  const target = parseRoute();
  if (!session.me && target.name !== 'signin') {
    if (target.name) state.returnTo = location.hash;
    location.replace('#/signin');
    return;
  }
  if (session.me && (!target.name || target.name === 'signin' || !VIEWS[target.name])) {
    location.replace(HOME);
    return;
  }
  renderHeader();
  // The same view with other parameters (a tab, a filter) updates in place: focus stays put.
  if (!redraw && state.viewName === target.name && state.view?.update?.(target)) return;

  state.controller?.abort();
  state.view?.destroy?.();
  state.controller = new AbortController();
  clearToast();
  const main = byId('main');
  const view = VIEWS[target.name].render({
    route: target,
    signal: state.controller.signal,
    refreshCounts: poll,
    notice: state.signinNotice,
    onSignedIn,
    counts: () => state.counts,
  });
  state.view = view;
  state.viewName = target.name;
  main.replaceChildren(view.node);
  document.title = `${view.title} · ${t('brand')}`;
  if (view.focus) view.focus.focus();
  else focusHeading(main);
  if (state.counts) view.counts?.(state.counts);
}

// --- session -------------------------------------------------------------------------------------

/** @param {Me} me */
async function onSignedIn(me) {
  session.me = me;
  state.signinNotice = null;
  const target = state.returnTo || HOME;
  state.returnTo = null;
  await loadSites().catch(() => {});
  startLive();
  navigate(target);
}

/** Works on another site from now on: its queue, log and integrations, from the start.
 * @param {string} site */
function changeSite(site) {
  session.site = site;
  state.counts = null;
  startLive();
  const name = session.sites.find((known) => known.site_id === site)?.name ?? site;
  announce(t('siteChanged', { name }));
  navigate(HOME);
}

/** @param {string | null} [notice] */
function signOut(notice = null) {
  session.key = null;
  session.me = null;
  session.site = null;
  session.sites = [];
  state.counts = null;
  state.signinNotice = notice;
  stopLive();
  clearToast();
  navigate('#/signin');
  if (!notice) announce(t('signedOut'));
}

on('unauthorized', (error) => rejected(error.message));

/** The service no longer accepts the key: back to sign-in, saying why, and then back here.
 * @param {string} detail */
function rejected(detail) {
  if (!session.me) return;
  state.returnTo = location.hash;
  signOut(t('keyRejected', { detail }));
}

on('outage', (kind) => {
  // Always in the page (empty when all is well), so that screen readers announce the change.
  const banner = byId('outage');
  const text = kind === 'database' ? t('outage') : kind === 'offline' ? t('offline') : '';
  if (banner.textContent !== text) banner.textContent = text;
});

// --- live updates and the counts poll ------------------------------------------------------------

/** @param {Counts} counts */
function showCounts(counts) {
  state.counts = counts;
  const badge = document.getElementById('nav-pending');
  if (badge) badge.textContent = countText(counts.pending);
  else renderHeader();
  state.view?.counts?.(counts);
}

/** Opens the moderators' stream for the tab's key and site (live.js): `counts` for the shell,
 * queue changes for the view. While it is down, the counts are polled. */
function startLive() {
  stopLive();
  state.streamed = false;
  state.live = openLive({
    onEvent(type, data) {
      if (type === 'counts') showCounts(data);
      else state.view?.live?.(type, data);
    },
    onStreaming(open) {
      state.streaming = open;
      if (!open) startPolling();
      else {
        stopPolling();
        // What arrived while the stream was down is not sent again: look for it once.
        if (state.streamed) state.view?.poll?.();
        state.streamed = true;
      }
    },
    // The key was revoked while the stream was open (or refused when it opened).
    onRejected: (detail) => rejected(detail ?? t('keyRevoked')),
  });
  // The counts at once; the poll goes on until the stream is open.
  startPolling();
}

function stopLive() {
  state.live?.stop();
  state.live = null;
  state.streaming = false;
  stopPolling();
}

async function poll() {
  // Actions call this too; only the latest run schedules the next, so polls never multiply.
  const run = (state.pollRun += 1);
  clearTimeout(state.pollTimer);
  if (!session.me) return;
  if (document.visibilityState === 'visible') {
    try {
      showCounts(await api('/v1/moderation/counts'));
    } catch {
      // The outage banner (503) or the sign-in page (401) tell the user; try again later.
    }
    if (!state.streaming) await state.view?.poll?.();
  }
  if (session.me && !state.streaming && run === state.pollRun) state.pollTimer = setTimeout(poll, POLL_MS);
}

function startPolling() {
  stopPolling();
  poll();
}

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = undefined;
}

// A hidden tab stops polling (the stream stays open); on return it catches up at once.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && session.me && !state.streaming) startPolling();
});

// --- shortcuts -----------------------------------------------------------------------------------

const SHORTCUTS = [
  ['j', 'key.next'],
  ['k', 'key.previous'],
  ['x', 'key.select'],
  ['a', 'key.approve'],
  ['a', 'key.keep'],
  ['r', 'key.reject'],
  ['s', 'key.spam'],
  ['h', 'key.hold'],
  ['e', 'key.reply'],
  ['o', 'key.open'],
  ['u', 'key.undo'],
  ['?', 'key.help'],
];

function showHelp() {
  if (document.querySelector('dialog[open]')) return;
  const titleId = uid('help');
  const dialog = h(
    'dialog',
    { class: 'dialog dialog--help', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, t('helpTitle')),
    h('p', {}, t('helpIntro')),
    h(
      'dl',
      { class: 'shortcuts' },
      SHORTCUTS.map(([key, label]) => h('div', {}, h('dt', {}, h('kbd', {}, key)), h('dd', {}, t(label)))),
    ),
    h('p', { class: 'muted' }, t('helpTyping')),
    h('div', { class: 'dialog__buttons' }, h('button', { type: 'button', class: 'button button--primary', onclick: () => dialog.close() }, t('close'))),
  );
  openDialog(dialog);
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target) || document.querySelector('dialog[open]') || !session.me) return;
  if (event.key === '?') showHelp();
  else if (event.key === 'u') undoLast();
  else if (!state.view?.key?.(event)) return;
  event.preventDefault();
});

// --- start ---------------------------------------------------------------------------------------

async function start() {
  document.documentElement.lang = lang();
  applyDensity();
  window.addEventListener('hashchange', () => route());
  const key = session.key;
  if (key) {
    // A reload keeps the tab's key; check it is still good before showing anything.
    try {
      session.me = await api('/v1/me', { key });
      await loadSites().catch(() => {});
      startLive();
    } catch (error) {
      // A refused key is forgotten; after an outage the tab keeps it, and a reload tries again.
      if (error instanceof ApiError && error.status === 401) {
        session.key = null;
        state.signinNotice = t('keyRejected', { detail: error.message });
      } else state.signinNotice = errorText(error);
      if (parseRoute().name) state.returnTo = location.hash;
    }
  }
  route();
}

start();
