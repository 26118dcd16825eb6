// DOM helpers shared by every view. Readers' text only ever enters the page as text nodes or
// attribute values through h(), never as HTML, so a review cannot inject markup or script.

/** @typedef {Node | string | number | boolean | null | undefined} Leaf null, undefined and false are
 * left out; other values that are not nodes are shown as text. */
/** @typedef {Leaf | readonly (Leaf | readonly Leaf[])[]} Child a leaf, or lists of them (flattened) */
/** @typedef {Record<string, unknown>} Attributes */
/**
 * The element `h(tag)` makes: an HTML element by its tag name, an SVG one for `svg:name`.
 * @template {string} T
 * @typedef {T extends `svg:${infer N extends keyof SVGElementTagNameMap}` ? SVGElementTagNameMap[N]
 *   : T extends keyof HTMLElementTagNameMap ? HTMLElementTagNameMap[T] : HTMLElement} ElementOf
 */

/** Builds an element: attributes (null/false skipped, true → empty), `on*` functions become
 * listeners; children are nodes or strings (as text).
 * @template {string} T
 * @param {T} tag @param {Attributes | null} [attributes] @param {...Child} children
 * @returns {ElementOf<T>} */
export function h(tag, attributes, ...children) {
  const element = tag.includes(':')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(tag.indexOf(':') + 1))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  // The tag decided the element's kind above; TypeScript cannot follow createElement's overloads
  // through a string that is only known to extend `string`.
  return /** @type {ElementOf<T>} */ (element);
}

/** Replaces an element's children, skipping null and false as h() does (the DOM's own
 * replaceChildren would print them as text). */
/** @template {Element} E @param {E} element @param {...Child} children @returns {E} */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** @param {Element} element @param {Child[]} children */
function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** An SVG element (h with the namespace).
 * @template {keyof SVGElementTagNameMap} N
 * @param {N} tag @param {Attributes | null} [attributes] @param {...Child} children
 * @returns {ElementOf<`svg:${N}`>} */
export const s = (tag, attributes, ...children) => h(/** @type {`svg:${N}`} */ (`svg:${tag}`), attributes, ...children);

/** A visually hidden text for screen readers. */
export const srOnly = (/** @type {Child[]} */ ...children) => h('span', { class: 'sr-only' }, ...children);

let unique = 0;
/** An element id unique in the page. */
export const uid = (prefix = 'c') => `${prefix}-${(unique += 1)}`;

/** The polite live region in the page shell: status messages that need no focus change.
 * Repeating the same text alternates a no-break space, so it is announced again. */
/** @param {string} text */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = region.textContent === text ? text + '\u00a0' : text;
}

/** True when a key press belongs to the user's typing rather than to a shortcut. */
/** @param {EventTarget | null} target */
export function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(target.type);
}

/** Opens a modal <dialog>: showModal makes the rest of the page inert (so focus stays inside),
 * Escape closes it, and focus returns to where it was. Resolves with the dialog's returnValue. */
/** @param {HTMLDialogElement} dialog @param {HTMLElement} [initialFocus] @returns {Promise<string>} */
export function openDialog(dialog, initialFocus) {
  const opener = document.activeElement;
  document.body.append(dialog);
  // showModal makes the page inert, but Tab may still leave for the browser's own controls:
  // Tab and Shift+Tab cycle through the dialog's controls instead.
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const controls = [...dialog.querySelectorAll('button, input, textarea, select, a[href], [tabindex="0"]')].filter(
      (element) => element instanceof HTMLElement && !('disabled' in element && element.disabled) && element.getClientRects().length,
    );
    if (!controls.length) return;
    const first = controls[0];
    const last = controls[controls.length - 1];
    if (!(first instanceof HTMLElement && last instanceof HTMLElement)) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  dialog.showModal();
  (initialFocus || dialog.querySelector('[autofocus], button, input, textarea, select'))?.focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        dialog.remove();
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dialog.returnValue);
      },
      { once: true },
    );
  });
}

/** Asks a yes/no question in a modal dialog; resolves true only for the confirming button.
 * @param {{ title: string, text: string, confirm: string, cancel: string, danger?: boolean }} question */
export async function confirmDialog({ title, text, confirm, cancel, danger = false }) {
  const titleId = uid('dialog');
  const textId = uid('dialog');
  const close = (/** @type {string} */ value) => () => dialog.close(value);
  const no = h('button', { type: 'button', class: 'button', onclick: close('no') }, cancel);
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': textId },
    h('h2', { id: titleId }, title),
    h('p', { id: textId }, text),
    h(
      'div',
      { class: 'dialog__buttons' },
      no,
      h('button', { type: 'button', class: danger ? 'button button--danger' : 'button button--primary', onclick: close('yes') }, confirm),
    ),
  );
  // The harmless choice has focus first, so that a stray Enter does not destroy anything.
  return (await openDialog(dialog, no)) === 'yes';
}

/** Moves focus to a view's heading, so that screen readers start reading at the new content. */
/** @param {ParentNode} root */
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: false });
}

/** Wraps a filter form in a disclosure: open on wide screens and whenever a filter is set, folded
 * on a phone so that the reviews come first. */
/** @param {HTMLFormElement} form @param {string} label @param {number} active the filters set */
export function filterBox(form, label, active) {
  const wide = window.matchMedia('(min-width: 48rem)').matches;
  return h(
    'details',
    { class: 'filter-box', open: wide || active > 0 },
    h('summary', {}, label, active ? ` (${active})` : ''),
    form,
  );
}
