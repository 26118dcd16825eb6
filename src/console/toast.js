// The toast: one status line at the bottom of the page that reports the last action and, for a
// few seconds, offers to undo it. Only the last action can be undone, as a whole, so that "u"
// always means the same thing: put back what I just did.

import { h } from './dom.js';
import { t } from './i18n.js';

const UNDO_WINDOW_MS = 8000;
/** @type {{ run: (() => Promise<void>) | null, timer: ReturnType<typeof setTimeout> } | null} */
let pendingUndo = null;

function region() {
  return document.getElementById('toast');
}

function clear() {
  if (pendingUndo) clearTimeout(pendingUndo.timer);
  pendingUndo = null;
  region()?.replaceChildren();
  region()?.classList.remove('toast--shown', 'toast--error');
}

/** Shows `text`; with `undo` (an async function) an Undo button and the `u` shortcut work until
 * the window closes. `error` styles it as a failure. */
/** @param {string} text @param {{ undo?: (() => Promise<void>) | null, error?: boolean }} [options] */
export function toast(text, { undo = null, error = false } = {}) {
  clear();
  const box = region();
  if (!box) return;
  box.classList.add('toast--shown');
  box.classList.toggle('toast--error', error);
  const children = [h('span', { class: 'toast__text' }, text)];
  if (undo) {
    children.push(
      h(
        'button',
        { type: 'button', class: 'button button--small', 'aria-keyshortcuts': 'u', onclick: () => undoLast() },
        t('undo'),
        h('kbd', { 'aria-hidden': 'true' }, 'u'),
      ),
    );
    pendingUndo = { run: undo, timer: setTimeout(clear, UNDO_WINDOW_MS) };
  } else {
    pendingUndo = { run: null, timer: setTimeout(clear, UNDO_WINDOW_MS) };
  }
  box.replaceChildren(...children);
}

/** Runs the pending undo, if any; returns false when there is nothing to undo. */
export async function undoLast() {
  const run = pendingUndo?.run;
  if (!run) {
    toast(t('nothingToUndo'));
    return false;
  }
  clear();
  try {
    await run();
    toast(t('undone'));
  } catch (error) {
    toast(t('undoFailed', { detail: error instanceof Error ? error.message : String(error) }), { error: true });
  }
  return true;
}

export const clearToast = clear;
