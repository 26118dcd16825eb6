// A list of reviews as moderators see them, shared by the queue and the article view: one card per
// review, selection for bulk actions, the keyboard shortcuts, the newsroom's reply, the author's
// other reviews, and undo. Every change is a call to the public API; the list then shows what the
// API answered, not what it hoped for.

import { allowedActions, api, ApiError, inverseAction, moderate, undoable } from './api.js';
import { announce, confirmDialog, h, srOnly, uid } from './dom.js';
import { errorText, fmt, t } from './i18n.js';
import { removeReply, replyForm } from './reply.js';
import { toast } from './toast.js';

const PAGE_SIZE = 50;
// A link to one review reads up to this many pages of its list to find it (1,000 reviews).
const SEEK_PAGES = 20;
// The action shortcut letters, also given to screen readers through aria-keyshortcuts.
export const ACTION_KEYS = { a: 'approve', r: 'reject', s: 'spam', h: 'hold' };
// `a` is the "yes, this is fine" key: it approves, and on a published review (which approve cannot
// change) it keeps the review published and clears its readers' flags.
const KEY_OF = { ...Object.fromEntries(Object.entries(ACTION_KEYS).map(([key, action]) => [action, key])), dismiss_flags: 'a' };

/** Stars as text with the rating in words for screen readers. */
export function stars(rating) {
  return h(
    'span',
    { class: 'stars', role: 'img', 'aria-label': t('rated', { n: rating }) },
    '★'.repeat(rating) + '☆'.repeat(5 - rating),
  );
}

export function statusBadge(status) {
  return h('span', { class: `badge badge--${status}` }, t(`status.${status}`));
}

/** Review list. `query` holds the queue parameters (status, article_id, reason, language,
 * flagged); `showArticle` links each card to its article; `onChanged` runs after every change
 * (the shell refreshes the counts). */
export function reviewList({ query, showArticle = true, label, heading = null, emptyText, onChanged = () => {} }) {
  const reviews = new Map(); // id → review, in list order
  const cards = new Map(); // id → card element
  const selected = new Set();
  const authorCache = new Map(); // review id → promise of author-reviews answer
  let current = null; // the id of the card j/k and the action keys work on
  let nextCursor = null;
  let lastId = null; // the newest id seen, where the search for new arrivals starts
  let controller = new AbortController();
  let authorTimer = null;

  const list = h('ol', { class: 'cards', 'aria-label': label });
  const status = h('p', { class: 'list-status', role: 'status' });
  const more = h('button', { type: 'button', class: 'button', hidden: true, onclick: () => loadMore() }, t('loadMore'));
  const selectAll = h('input', { type: 'checkbox', onchange: () => toggleAll(selectAll.checked) });
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

  list.addEventListener('focusin', (event) => {
    const card = event.target.closest('.card');
    if (card) setCurrent(card.dataset.id, false);
  });

  // --- rendering -------------------------------------------------------------------------------

  function card(review) {
    const headingId = uid('review');
    const who = review.author_name || t('anonymous');
    return h(
      'article',
      { class: 'card card--review', tabindex: '-1', 'data-id': review.id, 'data-status': review.status, 'aria-labelledby': headingId },
      h(
        'div',
        { class: 'card__top' },
        review.status === 'deleted' ? null : selectBox(review, who),
        h('h3', { id: headingId, class: 'card__title', dir: 'auto' }, review.title || t('reviewBy', { name: who })),
        stars(review.rating),
        statusBadge(review.status),
      ),
      h(
        'div',
        { class: 'card__main' },
        // Why the rules held it comes first: it is what the editor decides on.
        review.reasons.length
          ? h(
              'ul',
              { class: 'card__reasons', 'aria-label': t('reasonsLabel') },
              review.reasons.map((reason) => h('li', { class: 'chip chip--reason', 'data-reason': reason }, t(`reason.${reason}`))),
            )
          : null,
        flagList(review),
        review.erased_at
          ? h('p', { class: 'card__erased' }, t('erased'))
          : h('p', { class: 'card__body', dir: 'auto' }, review.body),
        h(
          'p',
          { class: 'card__meta' },
          h('span', { dir: 'auto' }, who),
          review.author_email ? h('span', { class: 'card__email' }, review.author_email) : null,
          h('span', {}, review.language ? fmt.language(review.language) : t('languageUnknown')),
          h('span', {}, h('time', { datetime: review.created_at }, fmt.time(review.created_at))),
          review.edited_at ? h('span', {}, t('editedAt', { time: fmt.dateTime(review.edited_at) })) : null,
        ),
        h(
          'p',
          { class: 'card__meta card__signals' },
          showArticle ? h('span', {}, t('onArticle'), ' ', articleLink(review)) : null,
          h('span', { class: review.flag_count ? 'signal--flags' : null }, t('flags', review.flag_count)),
          h('span', {}, t('helpful', review.helpful_count)),
          h('span', {}, t('unhelpful', review.unhelpful_count)),
        ),
        replySection(review),
        h('div', { class: 'card__author' }),
      ),
      actionBar(review),
    );
  }

  /** The readers' flags (newest first): why, and what they wrote to the newsroom. */
  function flagList(review) {
    if (!review.flags?.length) return null;
    const more = review.flag_count - review.flags.length;
    return h(
      'ul',
      { class: 'card__flags', 'aria-label': t('flagsLabel') },
      review.flags.map((flag) =>
        h(
          'li',
          {},
          h('span', { class: 'chip chip--flag' }, t(`flagReason.${flag.reason}`)),
          flag.note ? h('span', { class: 'flag__note', dir: 'auto' }, flag.note) : null,
          h('time', { class: 'muted', datetime: flag.created_at }, fmt.dateTime(flag.created_at)),
        ),
      ),
      more > 0 ? h('li', { class: 'muted' }, t('flagsMore', more)) : null,
    );
  }

  function selectBox(review, who) {
    const checkbox = h('input', {
      type: 'checkbox',
      class: 'card__checkbox',
      checked: selected.has(review.id),
      onchange: () => toggle(review.id, checkbox.checked),
    });
    return h('label', { class: 'card__select' }, checkbox, srOnly(t('selectReview', { name: who })));
  }

  function actionBar(review) {
    const buttons = allowedActions(review).map((action) =>
      h(
        'button',
        {
          type: 'button',
          class: action === 'delete' ? 'button button--small button--danger' : `button button--small button--${action}`,
          'aria-keyshortcuts': KEY_OF[action],
          title: action === 'dismiss_flags' ? t('actionHint.dismiss_flags') : null,
          onclick: () => act(action, [review.id]),
        },
        t(`action.${action}`),
      ),
    );
    // Writing the first reply sits with the decisions; an existing reply carries its own buttons.
    if (!review.reply && review.status !== 'deleted' && !review.erased_at) {
      buttons.push(
        h('button', { type: 'button', class: 'button button--small card__reply-button', 'aria-keyshortcuts': 'e', onclick: () => editReply(review.id) }, t('writeReply')),
      );
    }
    return h('div', { class: 'card__actions' }, buttons);
  }

  function replySection(review) {
    const section = h('div', { class: 'card__reply' });
    if (review.status === 'deleted' || review.erased_at) return section;
    if (review.reply) {
      section.append(
        h('p', { class: 'reply__label' }, t('replyBy', { name: review.reply.author })),
        h('p', { class: 'reply__body', dir: 'auto' }, review.reply.body),
        h(
          'div',
          { class: 'card__actions' },
          h('button', { type: 'button', class: 'button button--small', 'aria-keyshortcuts': 'e', onclick: () => editReply(review.id) }, t('editReply')),
          h('button', { type: 'button', class: 'button button--small', onclick: () => deleteReply(review.id) }, t('removeReply')),
        ),
      );
    }
    return section;
  }

  /** Replaces a review's card after a change, keeping focus where it was. */
  function rerender(review) {
    reviews.set(review.id, review);
    const old = cards.get(review.id);
    const hadFocus = old?.contains(document.activeElement);
    const fresh = card(review);
    cards.set(review.id, fresh);
    if (old) old.replaceWith(fresh);
    if (review.id === current) {
      fresh.classList.add('card--current');
      if (authorCache.has(review.id)) showAuthorReviews(review.id);
    }
    if (hadFocus) fresh.focus();
  }

  function add(items, atEnd = true) {
    for (const review of items) {
      if (reviews.has(review.id)) continue;
      reviews.set(review.id, review);
      const element = card(review);
      cards.set(review.id, element);
      const item = h('li', {}, element);
      if (atEnd) list.append(item);
      if (!lastId || review.id > lastId) lastId = review.id;
    }
    updateBulk();
    updateStatus();
  }

  function removeCards(ids) {
    for (const id of ids) {
      cards.get(id)?.parentElement.remove();
      cards.delete(id);
      reviews.delete(id);
      selected.delete(id);
    }
    updateBulk();
    updateStatus();
  }

  function updateStatus(message) {
    status.textContent = message ?? (reviews.size ? '' : emptyText);
    status.hidden = !status.textContent;
    more.hidden = !nextCursor;
  }

  function updateBulk() {
    selectedCount.textContent = t('selected', selected.size);
    selectAll.checked = reviews.size > 0 && selected.size === reviews.size;
    selectAll.indeterminate = selected.size > 0 && selected.size < reviews.size;
    const chosen = [...selected].map((id) => reviews.get(id)).filter(Boolean);
    // Only actions every selected review can take.
    const common = ['dismiss_flags', 'approve', 'hold', 'restore', 'reject', 'spam', 'delete'].filter((action) =>
      chosen.every((review) => allowedActions(review).includes(action)),
    );
    bulkButtons.replaceChildren(
      ...(selected.size ? common : []).map((action) =>
        h(
          'button',
          {
            type: 'button',
            class: action === 'delete' ? 'button button--small button--danger' : 'button button--small',
            onclick: () => act(action, [...selected]),
          },
          t(`bulk.${action}`, selected.size),
        ),
      ),
    );
    bulk.hidden = reviews.size === 0;
  }

  // --- selection and focus ---------------------------------------------------------------------

  function toggle(id, on) {
    if (on) selected.add(id);
    else selected.delete(id);
    const checkbox = cards.get(id)?.querySelector('.card__checkbox');
    if (checkbox) checkbox.checked = on;
    cards.get(id)?.classList.toggle('card--selected', on);
    updateBulk();
  }

  function toggleAll(on) {
    for (const id of reviews.keys()) toggle(id, on);
    announce(t('selected', selected.size));
  }

  function setCurrent(id, focus = true) {
    if (current && current !== id && cards.get(current)) {
      const previous = cards.get(current);
      previous.classList.remove('card--current');
      // The author's other reviews are for the review being decided; a visited card folds them
      // away again, so the list stays short (they come back from the cache on return).
      previous.querySelector('.card__author')?.replaceChildren();
    }
    current = id;
    const element = cards.get(id);
    if (!element) return;
    element.classList.add('card--current');
    for (const other of cards.values()) other.tabIndex = other === element ? 0 : -1;
    if (focus) {
      element.focus();
      element.scrollIntoView({ block: 'nearest' });
    }
    clearTimeout(authorTimer);
    // Waits a moment so that running through the list with j/k does not fetch every review's.
    authorTimer = setTimeout(() => showAuthorReviews(id), 250);
  }

  function move(step) {
    const ids = [...reviews.keys()];
    if (!ids.length) return;
    const index = ids.indexOf(current);
    const next = index < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, index + step));
    setCurrent(ids[next]);
  }

  // --- the author's other reviews -----------------------------------------------------------------

  async function showAuthorReviews(id) {
    const section = cards.get(id)?.querySelector('.card__author');
    if (!section || !reviews.get(id)?.author_email) return;
    if (!authorCache.has(id)) {
      authorCache.set(
        id,
        api(`/v1/moderation/reviews/${id}/author-reviews`).catch((error) => {
          authorCache.delete(id);
          return { error };
        }),
      );
    }
    const answer = await authorCache.get(id);
    const target = cards.get(id)?.querySelector('.card__author');
    // The editor may have moved on while the answer was on its way.
    if (!target || id !== current) return;
    if (answer.error) {
      target.replaceChildren(h('p', { class: 'muted' }, t('authorFailed', { detail: errorText(answer.error) })));
      return;
    }
    const others = answer.items.filter((item) => item.id !== id);
    target.replaceChildren(
      h('h4', {}, t('authorOther')),
      others.length
        ? h(
            'ul',
            { class: 'author-reviews' },
            others.map((item) =>
              h(
                'li',
                {},
                stars(item.rating),
                ' ',
                statusBadge(item.status),
                ' ',
                h('time', { datetime: item.created_at }, fmt.date(item.created_at)),
                ' ',
                articleLink(item),
                h('span', { class: 'author-reviews__body', dir: 'auto' }, excerpt(item.erased_at ? t('erased') : item.body)),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('authorNone')),
    );
  }

  // --- loading -----------------------------------------------------------------------------------

  /** Loads the list from its start. `keep` is the review to make current again; with `seek`, the
   * pages are read until it is found (a link to one review), at most `SEEK_PAGES` of them. */
  async function load({ keep, seek = false } = {}) {
    controller.abort();
    controller = new AbortController();
    const keepId = keep ?? current;
    reviews.clear();
    cards.clear();
    selected.clear();
    list.replaceChildren();
    nextCursor = null;
    lastId = null;
    updateStatus(t('loading'));
    try {
      const page = await api('/v1/moderation/queue', { query: { ...query, limit: PAGE_SIZE }, signal: controller.signal });
      nextCursor = page.next_cursor;
      add(page.items);
      for (let pages = 1; seek && keepId && !cards.has(keepId) && nextCursor && pages < SEEK_PAGES; pages += 1) {
        const next = await api('/v1/moderation/queue', { query: { ...query, limit: PAGE_SIZE, cursor: nextCursor }, signal: controller.signal });
        nextCursor = next.next_cursor;
        add(next.items);
      }
      if (keepId && cards.has(keepId)) setCurrent(keepId, seek || document.activeElement === document.body || node.contains(document.activeElement));
      else if (seek && keepId) toast(t('reviewNotFound', { id: keepId }), { error: true });
    } catch (error) {
      if (error.name === 'AbortError') return;
      updateStatus(errorText(error));
    }
  }

  async function loadMore() {
    if (!nextCursor) return;
    more.disabled = true;
    try {
      const page = await api('/v1/moderation/queue', { query: { ...query, limit: PAGE_SIZE, cursor: nextCursor }, signal: controller.signal });
      const first = page.items.find((item) => !reviews.has(item.id));
      nextCursor = page.next_cursor;
      add(page.items);
      announce(t('shownMore', page.items.length));
      if (first) setCurrent(first.id);
    } catch (error) {
      if (error.name !== 'AbortError') toast(errorText(error), { error: true });
    } finally {
      more.disabled = false;
      if (!more.hidden && !node.contains(document.activeElement)) more.focus();
    }
  }

  /** Looks for reviews newer than the newest shown and appends them (the queue is oldest first, so
   * they belong at the end). Only once the whole queue is shown; otherwise they come with paging. */
  async function pollNew() {
    if (nextCursor) return;
    try {
      const page = await api('/v1/moderation/queue', {
        query: { ...query, limit: PAGE_SIZE, cursor: lastId || undefined },
        signal: controller.signal,
      });
      const fresh = page.items.filter((item) => !reviews.has(item.id));
      if (!fresh.length) return;
      nextCursor = page.next_cursor;
      add(fresh);
      for (const item of fresh) cards.get(item.id).classList.add('card--new');
      announce(t('arrived', fresh.length));
    } catch {
      // Polling again soon is the remedy; the shell shows outages.
    }
  }

  // --- actions -----------------------------------------------------------------------------------

  /** Applies a moderation action. The cards then show the new status, or leave the list when it
   * no longer matches the list's status; focus moves to the next card. */
  async function act(action, ids) {
    ids = ids.filter((id) => reviews.has(id) && allowedActions(reviews.get(id)).includes(action));
    if (!ids.length) {
      toast(t('notAllowed', { action: t(`action.${action}`) }), { error: true });
      return;
    }
    if (action === 'delete') {
      const sure = await confirmDialog({
        title: t('deleteTitle', ids.length),
        text: t('deleteText'),
        confirm: t('action.delete'),
        cancel: t('cancel'),
        danger: true,
      });
      if (!sure) return;
    }
    let result;
    try {
      result = await moderate(action, ids);
    } catch (error) {
      toast(errorText(error), { error: true });
      if (error instanceof ApiError && [404, 409].includes(error.status)) load();
      return;
    }
    applyChanges(result.changed);
    onChanged();
    const undo =
      !undoable(action) || !result.changed.length
        ? null
        : async () => {
            const groups = new Map();
            for (const change of result.changed) {
              const inverse = inverseAction(change.from, change.to);
              if (!inverse) continue;
              if (!groups.has(inverse)) groups.set(inverse, []);
              groups.get(inverse).push(change.id);
            }
            for (const [inverse, group] of groups) await moderate(inverse, group, 'undo');
            await load({ keep: result.changed[0].id });
            onChanged();
          };
    const message = result.changed.length
      ? t(`done.${action}`, result.changed.length) + (undoable(action) ? '' : '. ' + t(action === 'delete' ? 'final' : 'flagsFinal'))
      : t('unchanged', result.unchanged);
    toast(message, { undo });
  }

  function applyChanges(changed) {
    const leaving = [];
    for (const { id, to } of changed) {
      const review = reviews.get(id);
      if (!review) continue;
      // The API clears the flags when it publishes a review or they are dismissed.
      const updated = to === 'published' ? { ...review, status: to, flag_count: 0, flags: [] } : { ...review, status: to };
      if (belongs(updated)) rerender(updated);
      else leaving.push(id);
    }
    if (!leaving.length) return;
    const ids = [...reviews.keys()];
    const focusWasInside = node.contains(document.activeElement) || document.activeElement === document.body;
    // The next card after the last one leaving, or else the one before the first.
    const lastIndex = Math.max(...leaving.map((id) => ids.indexOf(id)));
    const firstIndex = Math.min(...leaving.map((id) => ids.indexOf(id)));
    const nextId = ids.slice(lastIndex + 1).find((id) => !leaving.includes(id)) ?? ids.slice(0, firstIndex).reverse().find((id) => !leaving.includes(id));
    const currentLeaves = leaving.includes(current);
    removeCards(leaving);
    if (currentLeaves) {
      current = null;
      if (nextId) setCurrent(nextId, focusWasInside);
      // The list is empty now: focus goes to its status line ("Nothing is waiting").
      else if (focusWasInside) {
        status.tabIndex = -1;
        status.focus();
      }
    }
  }

  /** Whether a review still belongs in this list after a change of status. */
  function belongs(review) {
    if (query.status && review.status !== query.status) return false;
    if (query.flagged === 'true' && !review.flag_count) return false;
    return true;
  }

  // --- replies -----------------------------------------------------------------------------------

  function editReply(id) {
    const review = reviews.get(id);
    const section = cards.get(id)?.querySelector('.card__reply');
    if (!review || !section || review.status === 'deleted' || review.erased_at) return;
    const { form, field } = replyForm(review, (reply) => {
      if (reply !== undefined) toast(t('replySaved'));
      rerender(reply === undefined ? reviews.get(id) : { ...reviews.get(id), reply });
      cards.get(id)?.focus();
    });
    section.replaceChildren(form);
    field.focus();
  }

  async function deleteReply(id) {
    try {
      await removeReply(id);
      rerender({ ...reviews.get(id), reply: null });
      cards.get(id)?.focus();
      toast(t('replyRemoved'));
    } catch (error) {
      toast(errorText(error), { error: true });
    }
  }

  // --- keyboard ----------------------------------------------------------------------------------

  /** Handles a shortcut; returns true when it was one of the list's. */
  function key(event) {
    const letter = event.key;
    if (letter === 'j') move(1);
    else if (letter === 'k') move(-1);
    else if (letter === 'x') {
      if (!current) move(1);
      if (current) {
        toggle(current, !selected.has(current));
        announce(t(selected.has(current) ? 'selectedOne' : 'unselectedOne') + ' ' + t('selected', selected.size));
      }
    } else if (ACTION_KEYS[letter]) {
      const targets = selected.size ? [...selected] : current ? [current] : [];
      if (!targets.length) {
        announce(t('nothingFocused'));
        return true;
      }
      const published = targets.every((id) => reviews.get(id)?.status === 'published');
      act(letter === 'a' && published ? 'dismiss_flags' : ACTION_KEYS[letter], targets);
    } else if (letter === 'e') {
      if (current) editReply(current);
    } else if (letter === 'o') {
      const review = current && reviews.get(current);
      if (review) location.hash = `#/articles/${encodeURIComponent(review.article_id)}`;
    } else return false;
    return true;
  }

  function destroy() {
    controller.abort();
    clearTimeout(authorTimer);
  }

  updateBulk();
  return { node, load, pollNew, key, destroy, get size() { return reviews.size; } };
}

function articleLink(review) {
  return h('a', { href: `#/articles/${encodeURIComponent(review.article_id)}` }, review.article_title || review.article_id);
}

function excerpt(text, length = 160) {
  return text.length > length ? text.slice(0, length - 1).trimEnd() + '…' : text;
}
