// Sign-in: the editor pastes an API key; GET /v1/me says whose it is and what it may do. Only keys
// with scope moderator or admin get in; the key is kept for this tab only (sessionStorage).

import { api, ApiError, session } from '../api.js';
import { h, uid } from '../dom.js';
import { errorText, t } from '../i18n.js';

const CONSOLE_SCOPES = ['moderator', 'admin'];

/** @param {import('../console.js').ViewContext} context @returns {import('../console.js').View} */
export function render({ notice, onSignedIn }) {
  const fieldId = uid('key');
  const messageId = uid('key-message');
  const field = h('input', {
    id: fieldId,
    name: 'key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': messageId,
  });
  // role=alert: the reason a key was refused is read out as soon as it appears.
  const message = h('p', { id: messageId, class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'button button--primary' }, t('signIn'));

  /** @param {string} text */
  function refuse(text) {
    message.textContent = text;
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }

  /** @param {SubmitEvent} event */
  async function submit(event) {
    event.preventDefault();
    const key = field.value.trim();
    message.textContent = '';
    field.removeAttribute('aria-invalid');
    if (!key) {
      refuse(t('keyNeeded'));
      return;
    }
    button.disabled = true;
    try {
      /** @type {import('../api.js').Me} */
      const me = await api('/v1/me', { key });
      if (!me.scopes.some((scope) => CONSOLE_SCOPES.includes(scope))) {
        refuse(t('keyWrongScope', { scopes: me.scopes.join(', ') || '—' }));
        return;
      }
      session.key = key;
      onSignedIn(me);
    } catch (error) {
      refuse(error instanceof ApiError && error.status === 401 ? t('keyUnknown') : errorText(error));
    } finally {
      button.disabled = false;
    }
  }

  const node = h(
    'section',
    { class: 'signin' },
    h('h1', {}, t('signInTitle')),
    h('p', {}, t('signInIntro')),
    notice ? h('p', { class: 'notice notice--warning', role: 'alert' }, notice) : null,
    h(
      'form',
      { class: 'signin__form', novalidate: true, onsubmit: submit },
      h('label', { for: fieldId }, t('apiKey')),
      field,
      message,
      button,
    ),
    h('p', { class: 'muted' }, t('signInPrivacy')),
  );
  return { node, title: t('signIn'), focus: field };
}
