// The moderation queue: Pending, Flagged (published reviews readers flagged) and Spam, with counts
// from the shell's poll, filters kept in the address (so a filtered queue can be bookmarked or
// shared), and the review list with its shortcuts.

import { filterBox, h, uid } from '../dom.js';
import { countText, t } from '../i18n.js';
import { reviewList } from '../reviews.js';

/** @typedef {'pending' | 'flagged' | 'spam'} Tab */
/** @typedef {Record<string, string>} Filters */
/** @typedef {ReturnType<typeof reviewList>} ReviewList */

/** @type {Record<Tab, Record<string, string>>} */
const TABS = {
  pending: { status: 'pending' },
  flagged: { status: 'published', flagged: 'true' },
  spam: { status: 'spam' },
};
const REASONS = ['banned_term', 'too_many_links', 'duplicate', 'honeypot', 'shouting', 'flagged'];
/** @type {readonly ('article_id' | 'reason' | 'language')[]} */
const FILTERS = ['article_id', 'reason', 'language'];
// Languages offered as suggestions; any BCP 47 tag may be typed.
const LANGUAGE_HINTS = ['uk', 'en', 'ru', 'pl', 'de', 'fr', 'ar', 'he'];

/** @param {string | undefined} name @returns {name is Tab} */
const isTab = (name) => name !== undefined && Object.hasOwn(TABS, name);

/** @param {import('../console.js').ViewContext} context @returns {import('../console.js').View} */
export function render({ route, refreshCounts, counts }) {
  /** @type {Tab} */
  let tab = isTab(route.parts[0]) ? route.parts[0] : 'pending';
  let filters = readFilters(route.params);
  /** @type {ReviewList | null} */
  let list = null;

  const tabLinks = /** @type {Tab[]} */ (Object.keys(TABS)).map((name) => {
    const count = h('span', { class: 'tab__count' });
    const link = h('a', { class: 'tab', 'data-tab': name }, h('span', {}, t(`tab.${name}`)), ' ', count);
    return { name, link, count };
  });
  const tabs = h('nav', { class: 'tabs', 'aria-label': t('queueTabs') }, tabLinks.map(({ link }) => link));

  const fieldIds = Object.fromEntries(FILTERS.map((name) => [name, uid(name)]));
  const languagesId = uid('languages');
  const fields = {
    article_id: h('input', { id: fieldIds.article_id, type: 'text', autocomplete: 'off', spellcheck: 'false' }),
    reason: h(
      'select',
      { id: fieldIds.reason },
      h('option', { value: '' }, t('anyReason')),
      REASONS.map((reason) => h('option', { value: reason }, t(`reason.${reason}`))),
    ),
    language: h('input', { id: fieldIds.language, type: 'text', list: languagesId, autocomplete: 'off', spellcheck: 'false', placeholder: 'uk, en…' }),
  };
  const form = h(
    'form',
    { class: 'filters', 'aria-label': t('filters'), onsubmit: applyFilters },
    h('div', { class: 'field' }, h('label', { for: fieldIds.article_id }, t('filter.article')), fields.article_id),
    h('div', { class: 'field' }, h('label', { for: fieldIds.reason }, t('filter.reason')), fields.reason),
    h(
      'div',
      { class: 'field field--narrow' },
      h('label', { for: fieldIds.language }, t('filter.language')),
      fields.language,
      h('datalist', { id: languagesId }, LANGUAGE_HINTS.map((code) => h('option', { value: code }))),
    ),
    h(
      'div',
      { class: 'filters__buttons' },
      h('button', { type: 'submit', class: 'button' }, t('applyFilters')),
      h('button', { type: 'button', class: 'button button--quiet', onclick: clearFilters }, t('clearFilters')),
    ),
  );

  const listSlot = h('div', {});
  const filterSlot = h('div', {});
  const node = h(
    'section',
    { class: 'queue' },
    h('div', { class: 'view-head' }, h('h1', {}, t('queueTitle')), h('p', { class: 'muted hint-line' }, t('queueHint'))),
    tabs,
    filterSlot,
    listSlot,
  );

  /** @param {Tab} name @param {Filters} values */
  function hash(name, values = filters) {
    const params = new URLSearchParams(Object.entries(values).filter(([, value]) => value));
    const search = params.toString();
    return `#/queue/${name}${search ? '?' + search : ''}`;
  }

  function show() {
    for (const { name, link } of tabLinks) {
      link.href = hash(name);
      if (name === tab) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    for (const name of FILTERS) fields[name].value = filters[name] || '';
    const active = Object.values(filters).filter(Boolean).length;
    const box = filterSlot.firstElementChild;
    // Redrawn only when the number of active filters changes, so an open box stays open.
    if (!(box instanceof HTMLElement) || box.dataset.active !== String(active)) {
      const fresh = filterBox(form, t('filters'), active);
      filterSlot.replaceChildren(fresh);
      fresh.dataset.active = String(active);
    }
    list?.destroy();
    const shown = reviewList({
      query: { ...TABS[tab], ...filters },
      label: t(`tab.${tab}`),
      heading: t(`tab.${tab}`),
      emptyText: Object.values(filters).some(Boolean) ? t('emptyFiltered') : t(`empty.${tab}`),
      onChanged: refreshCounts,
    });
    list = shown;
    listSlot.replaceChildren(shown.node);
    shown.load();
    const known = counts();
    if (known) showCounts(known);
  }

  /** @param {import('../console.js').Counts} values */
  function showCounts(values) {
    for (const { name, count } of tabLinks) count.textContent = values[name] == null ? '' : countText(values[name]);
  }

  /** @param {SubmitEvent} event */
  function applyFilters(event) {
    event.preventDefault();
    go(hash(tab, Object.fromEntries(FILTERS.map((name) => [name, fields[name].value.trim()]))));
  }

  function clearFilters() {
    go(hash(tab, {}));
  }

  // The same filters again mean "refresh": no hashchange would come.
  /** @param {string} target */
  function go(target) {
    if (location.hash === target) list?.load();
    else location.hash = target;
  }

  show();
  return {
    node,
    title: t('queueTitle'),
    update(next) {
      if (next.name !== 'queue') return false;
      tab = isTab(next.parts[0]) ? next.parts[0] : 'pending';
      filters = readFilters(next.params);
      show();
      return true;
    },
    counts: showCounts,
    // Polled (while the live stream is down), new arrivals have the newest ids; a newly flagged
    // review does not, so Flagged waits for the stream or a reload.
    poll: () => (tab === 'flagged' ? undefined : list?.pollNew()),
    live: (type, data) => list?.live(type, data),
    key: (event) => list?.key(event) ?? false,
    destroy: () => list?.destroy(),
  };
}

/** @param {URLSearchParams} params @returns {Filters} */
function readFilters(params) {
  return Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || '']));
}
