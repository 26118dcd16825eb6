// The audit log: every decision with who made it, filterable by actor, action, article and time,
// paged with next_cursor, and downloadable as CSV. The download is fetched with the bearer key and
// handed to the browser as a Blob URL: a plain link could not carry the key (there are no cookies).

import { api, isAbort } from '../api.js';
import { announce, filterBox, h, uid } from '../dom.js';
import { errorText, fmt, t } from '../i18n.js';
import { statusBadge } from '../reviews.js';

const ACTIONS = ['approve', 'reject', 'spam', 'restore', 'hold', 'delete', 'dismiss_flags', 'submit', 'edit', 'flag_threshold', 'reply', 'remove_reply', 'erase'];
/** @typedef {'actor' | 'action' | 'article_id' | 'since' | 'until'} Filter */
/** @type {readonly Filter[]} */
const FILTERS = ['actor', 'action', 'article_id', 'since', 'until'];
const PAGE_SIZE = 50;

/**
 * An entry of the audit log (GET /v1/moderation/log).
 * @typedef {object} Entry
 * @property {string} created_at
 * @property {string} actor
 * @property {string} action
 * @property {string[]} reasons
 * @property {import('../api.js').Status | null} [from_status]
 * @property {import('../api.js').Status} to_status
 * @property {string} review_id
 * @property {string} article_id
 * @property {string | null} [note]
 */

/** @param {import('../console.js').ViewContext} context @returns {import('../console.js').View} */
export function render({ route, signal }) {
  let filters = readFilters(route.params);
  /** @type {string | null} */
  let cursor = null;
  /** @type {AbortController | null} */
  let controller = null;

  const ids = Object.fromEntries(FILTERS.map((name) => [name, uid(name)]));
  const fields = {
    actor: h('input', { id: ids.actor, type: 'text', autocomplete: 'off', spellcheck: 'false' }),
    action: h('select', { id: ids.action }, h('option', { value: '' }, t('anyAction')), ACTIONS.map((action) => h('option', { value: action }, t(`logAction.${action}`)))),
    article_id: h('input', { id: ids.article_id, type: 'text', autocomplete: 'off', spellcheck: 'false' }),
    // datetime-local is the editor's local time; the API gets RFC 3339 in UTC.
    since: h('input', { id: ids.since, type: 'datetime-local' }),
    until: h('input', { id: ids.until, type: 'datetime-local' }),
  };
  const field = (/** @type {Filter} */ name, /** @type {string} */ label) => h('div', { class: 'field' }, h('label', { for: ids[name] }, label), fields[name]);
  const form = h(
    'form',
    { class: 'filters', 'aria-label': t('filters'), onsubmit: apply },
    field('actor', t('filter.actor')),
    field('action', t('filter.action')),
    field('article_id', t('filter.article')),
    field('since', t('filter.since')),
    field('until', t('filter.until')),
    h(
      'div',
      { class: 'filters__buttons' },
      h('button', { type: 'submit', class: 'button' }, t('applyFilters')),
      h('button', { type: 'button', class: 'button button--quiet', onclick: () => go({}) }, t('clearFilters')),
    ),
  );
  const download = h('button', { type: 'button', class: 'button', onclick: downloadCsv }, t('downloadCsv'));
  const status = h('p', { class: 'list-status', role: 'status' });
  const body = h('tbody', {});
  const table = h(
    'table',
    { class: 'log' },
    h('caption', { class: 'sr-only' }, t('logTitle')),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['logTime', 'logActor', 'logAction', 'logChange', 'logReview', 'logNote'].map((key) => h('th', { scope: 'col' }, t(key))),
      ),
    ),
    body,
  );
  const more = h('button', { type: 'button', class: 'button', hidden: true, onclick: () => load(true) }, t('olderEntries'));
  const node = h(
    'section',
    { class: 'log-view' },
    h('div', { class: 'view-head' }, h('h1', {}, t('logTitle')), download),
    filterBox(form, t('filters'), Object.values(filters).filter(Boolean).length),
    status,
    table,
    more,
  );

  /** @param {Partial<Record<Filter, string>>} values */
  function go(values) {
    const params = new URLSearchParams(Object.entries(values).filter(([, value]) => value));
    const hash = `#/log${params.size ? '?' + params : ''}`;
    // The same filters again mean "refresh": no hashchange would come.
    if (location.hash === hash) load();
    else location.hash = hash;
  }

  /** @param {SubmitEvent} event */
  function apply(event) {
    event.preventDefault();
    /** @type {Partial<Record<Filter, string>>} */
    const values = {};
    for (const name of FILTERS) {
      const value = fields[name].value.trim();
      values[name] = (name === 'since' || name === 'until') && value ? new Date(value).toISOString() : value;
    }
    go(values);
  }

  function showFilters() {
    for (const name of FILTERS) {
      const value = filters[name] || '';
      fields[name].value = (name === 'since' || name === 'until') && value ? toLocalInput(value) : value;
    }
  }

  /** @param {Entry} entry */
  function row(entry) {
    // A reply leaves the status as it was: one badge says so. The arrow is glued to the new
    // status, so that a narrow column wraps before the arrow, never after it.
    const change = h(
      'span',
      { class: 'log__change' },
      entry.from_status && entry.from_status !== entry.to_status
        ? [statusBadge(entry.from_status), ' ', h('span', { class: 'log__to' }, '→ ', statusBadge(entry.to_status))]
        : statusBadge(entry.to_status),
    );
    return h(
      'tr',
      {},
      h('td', { 'data-label': t('logTime') }, h('time', { datetime: entry.created_at }, fmt.dateTime(entry.created_at))),
      h('td', { 'data-label': t('logActor') }, entry.actor),
      h(
        'td',
        { 'data-label': t('logAction') },
        t(`logAction.${entry.action}`),
        entry.reasons.length
          ? h('span', { class: 'log__reasons' }, entry.reasons.map((reason) => h('span', { class: 'chip chip--reason' }, t(`reason.${reason}`))))
          : null,
      ),
      h('td', { 'data-label': t('logChange') }, change),
      h(
        'td',
        { 'data-label': t('logReview') },
        h(
          'span',
          { class: 'log__review' },
          // The whole id (it may break anywhere on a phone): UUIDv7 ids share their leading digits,
          // so a shortened one would hide what tells them apart. It opens the review among its
          // article's reviews.
          h(
            'a',
            {
              class: 'mono log__review-id',
              href: `#/articles/${encodeURIComponent(entry.article_id)}?review=${entry.review_id}`,
              'aria-label': t('openReview', { id: entry.review_id }),
            },
            entry.review_id,
          ),
          h('a', { href: `#/articles/${encodeURIComponent(entry.article_id)}` }, entry.article_id),
        ),
      ),
      h('td', { 'data-label': t('logNote'), dir: 'auto' }, entry.note || ''),
    );
  }

  async function load(next = false) {
    if (!next) {
      controller?.abort();
      controller = new AbortController();
      body.replaceChildren();
      cursor = null;
      status.textContent = t('loading');
    }
    more.disabled = true;
    try {
      /** @type {import('../api.js').Page<Entry>} */
      const page = await api('/v1/moderation/log', {
        query: { ...filters, limit: PAGE_SIZE, cursor: next ? cursor : undefined },
        signal: controller?.signal,
      });
      body.append(...page.items.map(row));
      cursor = page.next_cursor;
      status.textContent = body.children.length ? '' : t('logEmpty');
      table.hidden = !body.children.length;
      if (next) announce(t('shownMore', page.items.length));
    } catch (error) {
      if (isAbort(error)) return;
      status.textContent = errorText(error);
    }
    more.disabled = false;
    more.hidden = !cursor;
  }

  async function downloadCsv() {
    download.disabled = true;
    try {
      /** @type {Blob} */
      const blob = await api('/v1/moderation/log', { query: { ...filters, format: 'csv' }, as: 'blob', signal });
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `marginalia-audit-log-${new Date().toISOString().slice(0, 10)}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      // The browser has taken its copy once the click is handled.
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      announce(t('downloaded'));
    } catch (error) {
      if (!isAbort(error)) announce(errorText(error));
      status.textContent = errorText(error);
    }
    download.disabled = false;
  }

  showFilters();
  load();
  return {
    node,
    title: t('logTitle'),
    update(next) {
      if (next.name !== 'log') return false;
      filters = readFilters(next.params);
      showFilters();
      load();
      return true;
    },
    destroy: () => controller?.abort(),
  };
}

/** @param {URLSearchParams} params @returns {Record<Filter, string>} */
function readFilters(params) {
  return /** @type {Record<Filter, string>} */ (Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ''])));
}

/** An RFC 3339 time as the value of a datetime-local input, in the browser's time zone.
 * @param {string} iso */
function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}
