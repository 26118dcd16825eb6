// The state of a review list and what shows it: the cards in list order, the selection with its
// bulk buttons, the current card (where j/k and the action keys work), and the author's other
// reviews under the current card. Loading (review-pages.js) and acting (review-actions.js) change
// the list only through these functions.

import { ACTIONS } from './transitions.js';
import { allowedActions, api } from './api.js';
import { announce, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { authorReviews, reviewCard } from './review-card.js';

/** @typedef {import('./api.js').Review} Review */
/** @typedef {import('./api.js').Action} Action */
/** @typedef {import('./api.js').Page<Review>} ReviewPage */
/** @typedef {Record<string, string | undefined>} Query the queue's parameters */

/**
 * What the list's controls do; reviews.js wires them to review-actions.js and review-pages.js.
 * @typedef {object} ListHandlers
 * @property {(action: Action, ids: string[]) => void} act
 * @property {(id: string) => void} editReply
 * @property {(id: string) => void} deleteReply
 * @property {() => void} loadMore
 */

/**
 * One review list: its options, its elements and its state.
 * @typedef {object} ReviewList
 * @property {Query} query the queue parameters (status, article_id, reason, language, flagged)
 * @property {((signal: AbortSignal) => Promise<ReviewPage>) | null} source where a list that is not
 *   a queue's reads its reviews, all at once (no further pages, nothing to poll); null: the queue
 * @property {boolean} showArticle
 * @property {boolean} showReader
 * @property {string} emptyText
 * @property {() => void} onChanged runs after every change (the shell refreshes the counts)
 * @property {ListHandlers} handlers
 * @property {Map<string, Review>} reviews id → review, in list order
 * @property {Map<string, HTMLElement>} cards id → card element
 * @property {Set<string>} selected
 * @property {Map<string, Promise<ReviewPage | { error: unknown }>>} authorCache review id → the
 *   author's reviews, or why they could not be read
 * @property {string | null} current the id of the card j/k and the action keys work on
 * @property {string | null} nextCursor
 * @property {string | null} lastId the newest id seen, where the search for new arrivals starts
 * @property {boolean} loading whether the list is being read from its start
 * @property {Set<string>} acting the reviews an action of this list's is on its way for: the live
 *   stream's news of them is the action's own, which the list shows from the action's answer
 * @property {AbortController} controller aborted when the list loads again or goes
 * @property {ReturnType<typeof setTimeout> | undefined} authorTimer
 * @property {HTMLElement} node
 * @property {HTMLElement} list
 * @property {HTMLElement} status
 * @property {HTMLButtonElement} more
 * @property {HTMLInputElement} selectAll
 * @property {HTMLElement} selectedCount
 * @property {HTMLElement} bulkButtons
 * @property {HTMLElement} bulk
 */

/**
 * A list with no reviews yet, and its elements.
 * @param {{ query: Query, source: ReviewList['source'], showArticle: boolean, showReader: boolean,
 *   label: string, heading: string | null, emptyText: string, onChanged: () => void,
 *   handlers: ListHandlers }} options
 * @returns {ReviewList} */
export function createList({ query, source, showArticle, showReader, label, heading, emptyText, onChanged, handlers }) {
  const list = h('ol', { class: 'cards', 'aria-label': label });
  const status = h('p', { class: 'list-status', role: 'status' });
  const more = h('button', { type: 'button', class: 'button', hidden: true, onclick: () => handlers.loadMore() }, t('loadMore'));
  const selectAll = h('input', { type: 'checkbox', onchange: () => toggleAll(state, selectAll.checked) });
  const selectedCount = h('span', { class: 'bulk__count' });
  const bulkButtons = h('div', { class: 'bulk__buttons' });
  const bulk = h(
    'div',
    { class: 'bulk', role: 'group', 'aria-label': t('bulkActions') },
    h('label', { class: 'bulk__all' }, selectAll, t('selectAll')),
    selectedCount,
    bulkButtons,
  );
  // The list's own heading, for views whose cards (h3) would otherwise follow an h1 directly.
  const node = h('div', { class: 'review-list' }, heading ? h('h2', { class: 'sr-only' }, heading) : null, bulk, status, list, more);
  /** @type {ReviewList} */
  const state = {
    query,
    source,
    showArticle,
    showReader,
    emptyText,
    onChanged,
    handlers,
    reviews: new Map(),
    cards: new Map(),
    selected: new Set(),
    authorCache: new Map(),
    current: null,
    nextCursor: null,
    lastId: null,
    loading: false,
    acting: new Set(),
    controller: new AbortController(),
    authorTimer: undefined,
    node,
    list,
    status,
    more,
    selectAll,
    selectedCount,
    bulkButtons,
    bulk,
  };
  list.addEventListener('focusin', (/** @type {FocusEvent} */ event) => {
    const card = event.target instanceof Element ? event.target.closest('.card') : null;
    if (card instanceof HTMLElement && card.dataset.id) setCurrent(state, card.dataset.id, false);
  });
  updateBulk(state);
  return state;
}

/** @param {ReviewList} list @param {Review} review */
function card(list, review) {
  return reviewCard(review, {
    showArticle: list.showArticle,
    showReader: list.showReader,
    isSelected: (id) => list.selected.has(id),
    onToggle: (id, on) => toggle(list, id, on),
    onAct: list.handlers.act,
    onEditReply: list.handlers.editReply,
    onDeleteReply: list.handlers.deleteReply,
    listed: (id) => list.reviews.get(id),
    onShow: (id) => {
      if (!list.cards.has(id)) return false;
      setCurrent(list, id);
      return true;
    },
  });
}

// --- cards -----------------------------------------------------------------------------------

/** Replaces a review's card after a change, keeping focus where it was.
 * @param {ReviewList} list @param {Review} review */
export function rerender(list, review) {
  list.reviews.set(review.id, review);
  const old = list.cards.get(review.id);
  const hadFocus = old?.contains(document.activeElement);
  const fresh = card(list, review);
  list.cards.set(review.id, fresh);
  if (old) old.replaceWith(fresh);
  if (review.id === list.current) {
    fresh.classList.add('card--current');
    fresh.tabIndex = 0;
    if (list.authorCache.has(review.id)) showAuthorReviews(list, review.id);
  }
  // In the old card's place: focus goes back without scrolling the page.
  if (hadFocus) fresh.focus({ preventScroll: true });
}

/** Appends the reviews not shown yet. @param {ReviewList} list @param {Review[]} items */
export function add(list, items) {
  const fresh = items.filter((review) => !list.reviews.has(review.id));
  // All of them known first, so that an answer names the review it answers wherever that is.
  for (const review of fresh) list.reviews.set(review.id, review);
  for (const review of fresh) {
    const element = card(list, review);
    list.cards.set(review.id, element);
    list.list.append(h('li', {}, element));
    if (!list.lastId || review.id > list.lastId) list.lastId = review.id;
  }
  // Answers listed before the reviews they answer arrived: now they can name them.
  const arrived = new Set(fresh.map((review) => review.id));
  for (const review of list.reviews.values()) {
    if (review.in_reply_to && arrived.has(review.in_reply_to) && !arrived.has(review.id)) rerender(list, review);
  }
  updateBulk(list);
  updateStatus(list);
}

/** Forgets every review (before the list loads again). @param {ReviewList} list */
export function clear(list) {
  list.reviews.clear();
  list.cards.clear();
  list.selected.clear();
  list.list.replaceChildren();
  list.nextCursor = null;
  list.lastId = null;
}

/** @param {ReviewList} list @param {string[]} ids */
export function removeCards(list, ids) {
  for (const id of ids) {
    list.cards.get(id)?.parentElement?.remove();
    list.cards.delete(id);
    list.reviews.delete(id);
    list.selected.delete(id);
  }
  updateBulk(list);
  updateStatus(list);
}

/** Shows `message` in the list's status line, or that it is empty; and the "more" button when
 * there is a next page. @param {ReviewList} list @param {string} [message] */
export function updateStatus(list, message) {
  list.status.textContent = message ?? (list.reviews.size ? '' : list.emptyText);
  list.status.hidden = !list.status.textContent;
  list.more.hidden = !list.nextCursor;
}

/** The bulk bar: the count, the select-all box, and the actions every selected review can take.
 * @param {ReviewList} list */
export function updateBulk(list) {
  const { selected, reviews } = list;
  list.selectedCount.textContent = t('selected', selected.size);
  list.selectAll.checked = reviews.size > 0 && selected.size === reviews.size;
  list.selectAll.indeterminate = selected.size > 0 && selected.size < reviews.size;
  const chosen = [...selected].map((id) => reviews.get(id)).filter((review) => review !== undefined);
  const common = ACTIONS.filter((action) => chosen.every((review) => allowedActions(review).includes(action)));
  list.bulkButtons.replaceChildren(
    ...(selected.size ? common : []).map((action) =>
      h(
        'button',
        {
          type: 'button',
          class: action === 'delete' ? 'button button--small button--danger' : 'button button--small',
          onclick: () => list.handlers.act(action, [...selected]),
        },
        t(`bulk.${action}`, selected.size),
      ),
    ),
  );
  list.bulk.hidden = reviews.size === 0;
}

// --- selection and focus ---------------------------------------------------------------------

/** @param {ReviewList} list @param {string} id @param {boolean} on */
export function toggle(list, id, on) {
  if (on) list.selected.add(id);
  else list.selected.delete(id);
  const checkbox = list.cards.get(id)?.querySelector('.card__checkbox');
  if (checkbox instanceof HTMLInputElement) checkbox.checked = on;
  list.cards.get(id)?.classList.toggle('card--selected', on);
  updateBulk(list);
}

/** @param {ReviewList} list @param {boolean} on */
function toggleAll(list, on) {
  for (const id of list.reviews.keys()) toggle(list, id, on);
  announce(t('selected', list.selected.size));
}

/** Makes a card the current one (focused, unless `focus` is false), and soon shows its author's
 * other reviews. @param {ReviewList} list @param {string} id */
export function setCurrent(list, id, focus = true) {
  const previous = list.current && list.current !== id ? list.cards.get(list.current) : undefined;
  if (previous) {
    previous.classList.remove('card--current');
    // The author's other reviews are for the review being decided; a visited card folds them
    // away again, so the list stays short (they come back from the cache on return).
    previous.querySelector('.card__author')?.replaceChildren();
  }
  list.current = id;
  const element = list.cards.get(id);
  if (!element) return;
  element.classList.add('card--current');
  for (const other of list.cards.values()) other.tabIndex = other === element ? 0 : -1;
  if (focus) {
    element.focus();
    element.scrollIntoView({ block: 'nearest' });
  }
  clearTimeout(list.authorTimer);
  // Waits a moment so that running through the list with j/k does not fetch every review's.
  list.authorTimer = setTimeout(() => showAuthorReviews(list, id), 250);
}

/** Moves the current card `step` cards down (up when negative). @param {ReviewList} list @param {number} step */
export function move(list, step) {
  const ids = [...list.reviews.keys()];
  if (!ids.length) return;
  const index = list.current === null ? -1 : ids.indexOf(list.current);
  const next = index < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, index + step));
  setCurrent(list, ids[next]);
}

// --- the author's other reviews ----------------------------------------------------------------

/** @param {ReviewList} list @param {string} id */
async function showAuthorReviews(list, id) {
  const section = list.cards.get(id)?.querySelector('.card__author');
  if (!section || !list.reviews.get(id)?.author_email) return;
  let answer = list.authorCache.get(id);
  if (!answer) {
    /** @type {Promise<ReviewPage>} */
    const request = api(`/v1/moderation/reviews/${id}/author-reviews`);
    answer = request.catch((error) => {
      list.authorCache.delete(id);
      return { error };
    });
    list.authorCache.set(id, answer);
  }
  const page = await answer;
  const target = list.cards.get(id)?.querySelector('.card__author');
  // The editor may have moved on while the answer was on its way.
  if (!target || id !== list.current) return;
  if ('error' in page) {
    target.replaceChildren(h('p', { class: 'muted' }, t('authorFailed', { detail: errorText(page.error) })));
    return;
  }
  target.replaceChildren(...authorReviews(page.items.filter((item) => item.id !== id)));
}
