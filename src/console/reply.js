// The newsroom's reply to a review: a small form that writes or edits it (PUT
// /v1/reviews/{id}/reply). Readers see the reply signed with the newsroom's name, never the key's.

import { api } from './api.js';
import { h, uid } from './dom.js';
import { errorText, t } from './i18n.js';

/** @typedef {import('./api.js').Review} Review */
/** @typedef {import('./api.js').Reply} Reply */

/** A reply form for `review`, prefilled with its reply. `onDone(reply)` gets the saved reply, or
 * nothing when the editor cancels (Esc or the Cancel button). Ctrl+Enter saves.
 * @param {Review} review @param {(reply?: Reply | null) => void} onDone */
export function replyForm(review, onDone) {
  const fieldId = uid('reply');
  const errorId = uid('reply-error');
  const field = h('textarea', { id: fieldId, rows: 4, maxlength: 5000, dir: 'auto', 'aria-describedby': errorId });
  field.value = review.reply?.body || '';
  const error = h('p', { id: errorId, class: 'field-error' });
  const saveButton = h('button', { type: 'submit', class: 'button button--small button--primary' }, t('saveReply'));

  /** @param {string} text */
  function fail(text) {
    error.textContent = text;
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }

  async function save() {
    const body = field.value.trim();
    if (!body) {
      fail(t('replyEmpty'));
      return;
    }
    saveButton.disabled = true;
    try {
      /** @type {Review} */
      const updated = await api(`/v1/reviews/${review.id}/reply`, { method: 'PUT', body: { body } });
      onDone(updated.reply);
    } catch (failure) {
      saveButton.disabled = false;
      fail(errorText(failure));
    }
  }

  field.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      onDone();
    } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
    }
  });
  const form = h(
    'form',
    {
      class: 'reply-form',
      onsubmit: (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        save();
      },
    },
    h('label', { for: fieldId }, t('replyLabel')),
    field,
    error,
    h(
      'div',
      { class: 'card__actions' },
      saveButton,
      h('button', { type: 'button', class: 'button button--small', onclick: () => onDone() }, t('cancel')),
      h('span', { class: 'hint' }, t('replyHint')),
    ),
  );
  return { form, field };
}

/** Removes the reply; resolves once the API has. */
export const removeReply = (/** @type {string} */ id) => api(`/v1/reviews/${id}/reply`, { method: 'DELETE', as: 'none' });
