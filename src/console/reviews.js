// A list of reviews as moderators see it, shared by the queue and the article view: one card per
// review (review-card.js), selection for bulk actions and the current card (review-list.js), its
// pages (review-pages.js), moderation with undo and the newsroom's reply (review-actions.js), and
// here the keyboard shortcuts and what the views hold of a list.

import { announce } from './dom.js';
import { t } from './i18n.js';
import { act, deleteReply, editReply } from './review-actions.js';
import { ACTION_KEYS } from './review-card.js';
import { createList, move, toggle } from './review-list.js';
import { live, load, loadMore, pollNew } from './review-pages.js';

export { stars, statusBadge } from './review-card.js';

/** @typedef {import('./review-list.js').ReviewList} ReviewList */
/** @typedef {import('./review-list.js').Query} Query */

/**
 * A review list for a view. `query` holds the queue parameters (status, article_id, reason,
 * language, flagged); `source`, for a list that is not a queue's, reads all its reviews instead;
 * `showArticle` links each card to its article, `showReader` a signed-in author's to their reader
 * view; `onChanged` runs after every change (the shell refreshes the counts).
 * @param {{ query: Query, source?: ReviewList['source'], showArticle?: boolean, showReader?: boolean,
 *   label: string, heading?: string | null, emptyText: string, onChanged?: () => void }} options
 */
export function reviewList({ query, source = null, showArticle = true, showReader = true, label, heading = null, emptyText, onChanged = () => {} }) {
  /** @type {ReviewList} */
  const list = createList({
    query,
    source,
    showArticle,
    showReader,
    label,
    heading,
    emptyText,
    onChanged,
    handlers: {
      act: (action, ids) => act(list, action, ids),
      editReply: (id) => editReply(list, id),
      deleteReply: (id) => deleteReply(list, id),
      loadMore: () => loadMore(list),
    },
  });
  return {
    node: list.node,
    /** @param {{ keep?: string | null, seek?: boolean }} [options] */
    load: (options) => load(list, options),
    pollNew: () => pollNew(list),
    /** An event of the moderators' live stream. @param {string} type @param {any} data */
    live: (type, data) => live(list, type, data),
    /** @param {KeyboardEvent} event */
    key: (event) => key(list, event),
    destroy() {
      list.controller.abort();
      clearTimeout(list.authorTimer);
    },
    get size() {
      return list.reviews.size;
    },
  };
}

/** Handles a shortcut; returns true when it was one of the list's.
 * @param {ReviewList} list @param {KeyboardEvent} event */
function key(list, event) {
  const letter = event.key;
  if (letter === 'j') move(list, 1);
  else if (letter === 'k') move(list, -1);
  else if (letter === 'x') toggleCurrent(list);
  else if (ACTION_KEYS[letter]) actOnTargets(list, letter);
  else if (letter === 'e') {
    if (list.current) editReply(list, list.current);
  } else if (letter === 'o') {
    const review = list.current && list.reviews.get(list.current);
    if (review) location.hash = `#/articles/${encodeURIComponent(review.article_id)}`;
  } else return false;
  return true;
}

/** `x`: selects or unselects the current card (the first, when none is). @param {ReviewList} list */
function toggleCurrent(list) {
  if (!list.current) move(list, 1);
  const { current, selected } = list;
  if (!current) return;
  toggle(list, current, !selected.has(current));
  announce(t(selected.has(current) ? 'selectedOne' : 'unselectedOne') + ' ' + t('selected', selected.size));
}

/** An action key: on the selection, or else on the current card. `a` on published reviews keeps
 * them published and clears their flags. @param {ReviewList} list @param {string} letter */
function actOnTargets(list, letter) {
  const { current, selected, reviews } = list;
  const targets = selected.size ? [...selected] : current ? [current] : [];
  if (!targets.length) {
    announce(t('nothingFocused'));
    return;
  }
  const published = targets.every((id) => reviews.get(id)?.status === 'published');
  act(list, letter === 'a' && published ? 'dismiss_flags' : ACTION_KEYS[letter], targets);
}
