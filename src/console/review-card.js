// One review's card as moderators see it, and the small pieces other views show too (stars, a
// status badge, an article link). Rendering only: what a button does is the list's, passed in.

import { allowedActions } from './api.js';
import { h, srOnly, uid } from './dom.js';
import { fmt, t } from './i18n.js';

/** @typedef {import('./api.js').Review} Review */
/** @typedef {import('./api.js').Action} Action */
/** @typedef {import('./api.js').Status} Status */

/**
 * What a card's controls do, and how it is shown.
 * @typedef {object} CardHandlers
 * @property {boolean} showArticle link the card to its article
 * @property {boolean} showReader link the card to its signed-in author's view
 * @property {(id: string) => boolean} isSelected
 * @property {(id: string, on: boolean) => void} onToggle
 * @property {(action: Action, ids: string[]) => void} onAct
 * @property {(id: string) => void} onEditReply
 * @property {(id: string) => void} onDeleteReply
 * @property {(id: string) => Review | undefined} listed a review of the same list, by id
 * @property {(id: string) => boolean} onShow makes a card of the list current; false when the review
 *   is not in the list
 */

// The action shortcut letters, also given to screen readers through aria-keyshortcuts.
/** @type {Readonly<Record<string, Action>>} */
export const ACTION_KEYS = { a: 'approve', r: 'reject', s: 'spam', h: 'hold' };
// `a` is the "yes, this is fine" key: it approves, and on a published review (which approve cannot
// change) it keeps the review published and clears its readers' flags.
/** @type {Partial<Record<Action, string>>} */
const KEY_OF = { ...Object.fromEntries(Object.entries(ACTION_KEYS).map(([key, action]) => [action, key])), dismiss_flags: 'a' };

/** Stars as text with the rating in words for screen readers; "no rating" in words for a review
 * without stars. @param {number | null} rating */
export function stars(rating) {
  if (rating == null) return h('span', { class: 'stars stars--none' }, t('noRating'));
  return h(
    'span',
    { class: 'stars', role: 'img', 'aria-label': t('rated', { n: rating }) },
    '★'.repeat(rating) + '☆'.repeat(5 - rating),
  );
}

/** @param {Status} status */
export function statusBadge(status) {
  return h('span', { class: `badge badge--${status}` }, t(`status.${status}`));
}

/** @param {{ article_id: string, article_title?: string | null }} review */
export function articleLink(review) {
  return h('a', { href: `#/articles/${encodeURIComponent(review.article_id)}` }, review.article_title || review.article_id);
}

/** The reader view's address: the id is the site login's, so any character may be in it.
 * @param {string} readerId */
const readerHash = (readerId) => `#/readers/${encodeURIComponent(readerId)}`;

/** @param {string} text */
function excerpt(text, length = 160) {
  return text.length > length ? text.slice(0, length - 1).trimEnd() + '…' : text;
}

/** A review's card. @param {Review} review @param {CardHandlers} handlers */
export function reviewCard(review, handlers) {
  const headingId = uid('review');
  const who = review.author_name || t('anonymous');
  return h(
    'article',
    { class: 'card card--review', tabindex: '-1', 'data-id': review.id, 'data-status': review.status, 'aria-labelledby': headingId },
    h(
      'div',
      { class: 'card__top' },
      review.status === 'deleted' ? null : selectBox(review, who, handlers),
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
      inReplyTo(review, handlers),
      review.erased_at
        ? h('p', { class: 'card__erased' }, t('erased'))
        : h('p', { class: 'card__body', dir: 'auto' }, review.body),
      meta(review, who, handlers.showReader),
      signals(review, handlers.showArticle),
      replySection(review, handlers),
      h('div', { class: 'card__author' }),
    ),
    actionBar(review, handlers),
  );
}

/** Who wrote it (with what the site's login says of a signed-in author), in which language, and
 * when. @param {Review} review @param {string} who @param {boolean} showReader */
function meta(review, who, showReader) {
  return h(
    'p',
    { class: 'card__meta' },
    h('span', {}, h('span', { dir: 'auto' }, who), readerMarks(review)),
    showReader && review.reader_id
      ? h('span', { class: 'card__reader' }, h('a', { href: readerHash(review.reader_id) }, t('readerNamed', { id: review.reader_id })))
      : null,
    review.author_email ? h('span', { class: 'card__email' }, review.author_email) : null,
    h('span', {}, review.language ? fmt.language(review.language) : t('languageUnknown')),
    h('span', {}, h('time', { datetime: review.created_at }, fmt.time(review.created_at))),
    review.edited_at ? h('span', {}, t('editedAt', { time: fmt.dateTime(review.edited_at) })) : null,
  );
}

/** The review an answer answers (from an imported comment thread): its author's name when it is
 * in the same list (the link makes it the current card), else its id shortened (the link opens it
 * in its article's list). @param {Review} review @param {CardHandlers} handlers */
function inReplyTo(review, handlers) {
  const parentId = review.in_reply_to;
  if (!parentId) return null;
  const parent = handlers.listed(parentId);
  const text = parent
    ? t('inReplyTo', { name: parent.author_name || t('anonymous') })
    : t('inReplyToId', { id: `…${parentId.slice(-8)}` });
  const href = `#/articles/${encodeURIComponent(review.article_id)}?review=${parentId}`;
  return h(
    'p',
    { class: 'card__in-reply' },
    h(
      'a',
      {
        href,
        dir: 'auto',
        onclick: (/** @type {MouseEvent} */ event) => {
          if (handlers.onShow(parentId)) event.preventDefault();
        },
      },
      text,
    ),
  );
}

/** A signed-in author's marks, as words: that the site's login vouched for them, and the badges it
 * gave them (the site's own slugs, shown as they are). @param {Review} review */
function readerMarks({ verified = false, badges = [] }) {
  return [
    verified ? [' ', h('span', { class: 'verified' }, h('span', { 'aria-hidden': 'true' }, '✓'), ' ', t('verified'))] : null,
    badges.length
      ? [' ', h('span', { class: 'card__badges' }, srOnly(t('badgesLabel')), badges.map((badge) => [' ', h('span', { class: 'chip chip--badge' }, badge)]))]
      : null,
  ];
}

/** Its article, and what readers made of it. @param {Review} review @param {boolean} showArticle */
function signals(review, showArticle) {
  return h(
    'p',
    { class: 'card__meta card__signals' },
    showArticle ? h('span', {}, t('onArticle'), ' ', articleLink(review)) : null,
    h('span', { class: review.flag_count ? 'signal--flags' : null }, t('flags', review.flag_count)),
    h('span', {}, t('helpful', review.helpful_count)),
    h('span', {}, t('unhelpful', review.unhelpful_count)),
  );
}

/** The readers' flags (newest first): why, and what they wrote to the newsroom. @param {Review} review */
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

/** @param {Review} review @param {string} who @param {CardHandlers} handlers */
function selectBox(review, who, handlers) {
  const checkbox = h('input', {
    type: 'checkbox',
    class: 'card__checkbox',
    checked: handlers.isSelected(review.id),
    onchange: () => handlers.onToggle(review.id, checkbox.checked),
  });
  return h('label', { class: 'card__select' }, checkbox, srOnly(t('selectReview', { name: who })));
}

/** @param {Review} review @param {CardHandlers} handlers */
function actionBar(review, handlers) {
  const buttons = allowedActions(review).map((action) =>
    h(
      'button',
      {
        type: 'button',
        class: action === 'delete' ? 'button button--small button--danger' : `button button--small button--${action}`,
        'aria-keyshortcuts': KEY_OF[action],
        title: action === 'dismiss_flags' ? t('actionHint.dismiss_flags') : null,
        onclick: () => handlers.onAct(action, [review.id]),
      },
      t(`action.${action}`),
    ),
  );
  // Writing the first reply sits with the decisions; an existing reply carries its own buttons.
  if (!review.reply && review.status !== 'deleted' && !review.erased_at) {
    buttons.push(
      h(
        'button',
        { type: 'button', class: 'button button--small card__reply-button', 'aria-keyshortcuts': 'e', onclick: () => handlers.onEditReply(review.id) },
        t('writeReply'),
      ),
    );
  }
  return h('div', { class: 'card__actions' }, buttons);
}

/** @param {Review} review @param {CardHandlers} handlers */
function replySection(review, handlers) {
  const section = h('div', { class: 'card__reply' });
  if (review.status === 'deleted' || review.erased_at) return section;
  if (review.reply) {
    section.append(
      h('p', { class: 'reply__label' }, t('replyBy', { name: review.reply.author })),
      h('p', { class: 'reply__body', dir: 'auto' }, review.reply.body),
      h(
        'div',
        { class: 'card__actions' },
        h('button', { type: 'button', class: 'button button--small', 'aria-keyshortcuts': 'e', onclick: () => handlers.onEditReply(review.id) }, t('editReply')),
        h('button', { type: 'button', class: 'button button--small', onclick: () => handlers.onDeleteReply(review.id) }, t('removeReply')),
      ),
    );
  }
  return section;
}

/** The author's other reviews (`others`, the review itself left out), for its card's author
 * section. @param {Review[]} others */
export function authorReviews(others) {
  return [
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
  ];
}
