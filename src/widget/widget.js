/*! Marginalia review widget: plain JavaScript, no dependencies, no cookies, no storage.
 *
 *   <div id="marginalia-reviews"></div>
 *   <script src="https://reviews.example.org/widget.js" data-article-id="…" async></script>
 *
 * Optional attributes: data-target (a CSS selector), data-lang (uk, en), data-theme (light, dark),
 * data-site, data-email-notices, data-reader-token-url and data-sign-in-url (readers signed in by
 * the site's login).
 * The widget renders into a shadow root, so the page's styles do not reach it; theme it with the
 * --marginalia-* custom properties. Documentation: docs/widget.md in the Marginalia repository. */
(() => {
  'use strict';

  // Only set while this file first runs (async scripts included), so capture it before any await.
  const script = document.currentScript;
  // null in a module script: the widget is a classic script (and never an SVG one)
  if (!(script instanceof HTMLScriptElement)) return;
  const origin = new URL(script.src).origin;
  // data-site: the newsroom's site (docs/sites.md); else the default site's API.
  const site = script.dataset.site;
  const api = origin + (site ? '/sites/' + encodeURIComponent(site) : '');
  // build.rs puts the stylesheet's content hash here: a URL cached for good, new with new styles.
  const CSS_URL = origin + '/widget.css?v=__MARGINALIA_CSS_VERSION__';
  const PAGE_SIZE = 10;
  const SORTS = ['newest', 'oldest', 'highest', 'lowest'];

  // {n} is a formatted number, {name} a name. Objects are plural forms (Intl.PluralRules categories).
  const STRINGS = {
    en: {
      heading: 'Reader reviews',
      loading: 'Loading reviews…',
      loadFailed: 'Reviews could not be loaded. Please try again later.',
      noReviews: 'No reviews yet. Be the first to write one.',
      average: 'Average rating: {n} out of 5',
      rated: 'Rated {n} out of 5',
      reviews: { one: '{n} review', other: '{n} reviews' },
      stars: { one: '{n} star', other: '{n} stars' },
      distribution: 'Ratings by number of stars',
      listHeading: 'Reviews',
      sort: 'Sort by',
      newest: 'Newest first',
      oldest: 'Oldest first',
      highest: 'Highest rated',
      lowest: 'Lowest rated',
      more: 'Show more reviews',
      shown: { one: '{n} more review shown', other: '{n} more reviews shown' },
      fresh: { one: '{n} new review', other: '{n} new reviews' },
      show: 'show',
      anonymous: 'Anonymous reader',
      edited: 'edited',
      reply: 'Reply from {name}',
      // An answer to another review (imported comment threads).
      toReview: 'In reply to {name}',
      toReader: 'In reply to a reader',
      toEarlier: 'In reply to an earlier review',
      formHeading: 'Write a review',
      rating: 'Your rating',
      title: 'Title',
      body: 'Your review',
      name: 'Your name',
      email: 'Email',
      optional: 'optional',
      emailHint: 'Only the newsroom sees it; it is never published.',
      notify: 'Email me when my review is published or answered',
      notifyHint: 'We will ask you to confirm the address first.',
      honeypot: 'Leave this field empty',
      submit: 'Send review',
      published: 'Thank you! Your review is published.',
      pending: 'Thank you! Your review is awaiting moderation: it will appear once an editor approves it.',
      invalid: 'Please correct the marked fields.',
      tooMany: 'Too many reviews were sent from your network. Try again in {n} s.',
      closed: 'Reviews on this article are closed.',
      unknown: 'This article does not accept reviews.',
      offline: 'Your review could not be sent. Check your connection and try again.',
      failed: 'Your review could not be sent. Please try again in a moment.',
      // Readers signed in by the newsroom's own login (docs/readers.md).
      signedIn: 'Signed in as {name}',
      signedInNameless: 'You are signed in.',
      signIn: 'Sign in',
      signInRequired: 'Only signed-in readers can review this article.',
      signInFailed: 'Your sign-in could not be confirmed. Please sign in again.',
      reviewedAlready: 'You have already reviewed this article.',
      suspended: 'Reviews from your account are not accepted on this site.',
      verified: 'Verified reader',
      badges: { subscriber: 'Subscriber', staff: 'Staff', expert: 'Expert' },
      // Readers' actions on a review.
      helpful: 'Helpful',
      notHelpful: 'Not helpful',
      helpfulCount: { one: '{n} reader found this helpful', other: '{n} readers found this helpful' },
      voted: 'Thank you for your vote.',
      report: 'Report',
      reportHeading: 'Report this review to the editors',
      reason: 'Reason',
      chooseReason: 'Choose a reason',
      reasons: {
        spam: 'Spam or advertising',
        abuse: 'Abuse or hate',
        off_topic: 'Off topic',
        misinformation: 'False information',
        personal_data: 'Personal data',
        other: 'Something else',
      },
      note: 'Note for the editors',
      sendReport: 'Send report',
      cancel: 'Cancel',
      reported: 'Thank you. The editors will look at this review.',
      actionTooMany: 'Too many requests from your network. Try again in {n} s.',
      actionGone: 'This review is no longer available.',
      actionFailed: 'That did not work. Please try again in a moment.',
      // The reader's own review, while this page stays open.
      yours: 'Your review',
      yoursHint: 'You can change or delete it while this page is open.',
      edit: 'Edit your review',
      editHeading: 'Edit your review',
      save: 'Save changes',
      remove: 'Delete your review',
      confirmRemove: 'Delete your review for good?',
      confirm: 'Delete',
      saved: 'Your changes are saved.',
      savedPending: 'Your changes are saved and await moderation.',
      removed: 'Your review is deleted.',
      editClosed: 'The time for editing has passed; you can still delete your review.',
      // Keyed by "field.code", then by code alone; anything else shows the server's own message.
      errors: {
        'rating.required': 'Choose a rating from 1 to 5 stars.',
        'rating.range': 'Choose a rating from 1 to 5 stars.',
        'body.required': 'Write your review: 1 to 10,000 characters.',
        'body.length': 'Write your review: 1 to 10,000 characters.',
        'title.length': 'Use at most 200 characters.',
        'author_name.length': 'Use at most 100 characters.',
        'author_name.format': 'Remove invisible or text-direction characters.',
        'author_email.length': 'Use at most 254 characters.',
        'notify.required': 'Enter your email to receive notices.',
        email: 'Enter an email address such as reader@example.com.',
        blank: 'Write some visible text, not only spaces or invisible characters.',
        control_character: 'Remove control characters.',
        'reason.required': 'Choose a reason.',
        'note.length': 'Use at most 500 characters.',
      },
    },
    uk: {
      heading: 'Відгуки читачів',
      loading: 'Завантаження відгуків…',
      loadFailed: 'Не вдалося завантажити відгуки. Спробуйте пізніше.',
      noReviews: 'Відгуків ще немає. Напишіть перший.',
      average: 'Середня оцінка: {n} з 5',
      rated: 'Оцінка: {n} з 5',
      reviews: { one: '{n} відгук', few: '{n} відгуки', many: '{n} відгуків', other: '{n} відгуку' },
      stars: { one: '{n} зірка', few: '{n} зірки', many: '{n} зірок', other: '{n} зірки' },
      distribution: 'Оцінки за кількістю зірок',
      listHeading: 'Відгуки',
      sort: 'Сортувати',
      newest: 'Спершу нові',
      oldest: 'Спершу старі',
      highest: 'Найвищі оцінки',
      lowest: 'Найнижчі оцінки',
      more: 'Показати більше відгуків',
      shown: {
        one: 'Показано ще {n} відгук',
        few: 'Показано ще {n} відгуки',
        many: 'Показано ще {n} відгуків',
        other: 'Показано ще {n} відгуку',
      },
      fresh: { one: '{n} новий відгук', few: '{n} нові відгуки', many: '{n} нових відгуків', other: '{n} нового відгуку' },
      show: 'показати',
      anonymous: 'Анонімний читач',
      edited: 'змінено',
      reply: 'Відповідає {name}',
      toReview: 'У відповідь на відгук: {name}',
      toReader: 'У відповідь на відгук читача',
      toEarlier: 'У відповідь на попередній відгук',
      formHeading: 'Напишіть відгук',
      rating: 'Ваша оцінка',
      title: 'Заголовок',
      body: 'Ваш відгук',
      name: 'Ваше ім’я',
      email: 'Електронна пошта',
      optional: 'необов’язково',
      emailHint: 'Її бачить лише редакція; вона ніколи не публікується.',
      notify: 'Повідомте мене листом, коли відгук опублікують або на нього відповідять',
      notifyHint: 'Спершу ми попросимо підтвердити адресу.',
      honeypot: 'Залиште це поле порожнім',
      submit: 'Надіслати відгук',
      published: 'Дякуємо! Ваш відгук опубліковано.',
      pending: 'Дякуємо! Ваш відгук очікує на модерацію: він з’явиться, щойно редактор його схвалить.',
      invalid: 'Виправте позначені поля.',
      tooMany: 'З вашої мережі надіслано забагато відгуків. Спробуйте знову через {n} с.',
      closed: 'Відгуки до цієї статті закрито.',
      unknown: 'Ця стаття не приймає відгуків.',
      offline: 'Не вдалося надіслати відгук. Перевірте з’єднання і спробуйте ще раз.',
      failed: 'Не вдалося надіслати відгук. Спробуйте ще раз за хвилину.',
      signedIn: 'Ви увійшли як {name}',
      signedInNameless: 'Ви увійшли.',
      signIn: 'Увійти',
      signInRequired: 'Відгуки до цієї статті пишуть лише читачі, які увійшли.',
      signInFailed: 'Не вдалося підтвердити ваш вхід. Увійдіть ще раз.',
      reviewedAlready: 'Ви вже написали відгук до цієї статті.',
      suspended: 'Відгуки з вашого облікового запису на цьому сайті не приймаються.',
      verified: 'Перевірений читач',
      badges: { subscriber: 'Передплатник', staff: 'Редакція', expert: 'Експерт' },
      helpful: 'Корисний',
      notHelpful: 'Некорисний',
      helpfulCount: {
        one: '{n} читач вважає відгук корисним',
        few: '{n} читачі вважають відгук корисним',
        many: '{n} читачів вважають відгук корисним',
        other: '{n} читача вважають відгук корисним',
      },
      voted: 'Дякуємо за ваш голос.',
      report: 'Поскаржитися',
      reportHeading: 'Поскаржитися редакції на цей відгук',
      reason: 'Причина',
      chooseReason: 'Оберіть причину',
      reasons: {
        spam: 'Спам або реклама',
        abuse: 'Образи чи ворожнеча',
        off_topic: 'Не на тему',
        misinformation: 'Неправдива інформація',
        personal_data: 'Персональні дані',
        other: 'Інше',
      },
      note: 'Примітка для редакції',
      sendReport: 'Надіслати скаргу',
      cancel: 'Скасувати',
      reported: 'Дякуємо. Редакція перегляне цей відгук.',
      actionTooMany: 'З вашої мережі надіслано забагато запитів. Спробуйте знову через {n} с.',
      actionGone: 'Цей відгук більше недоступний.',
      actionFailed: 'Не вдалося. Спробуйте ще раз за хвилину.',
      yours: 'Ваш відгук',
      yoursHint: 'Ви можете змінити або видалити його, поки ця сторінка відкрита.',
      edit: 'Змінити відгук',
      editHeading: 'Змініть свій відгук',
      save: 'Зберегти зміни',
      remove: 'Видалити відгук',
      confirmRemove: 'Видалити ваш відгук назавжди?',
      confirm: 'Видалити',
      saved: 'Зміни збережено.',
      savedPending: 'Зміни збережено; вони очікують на модерацію.',
      removed: 'Ваш відгук видалено.',
      editClosed: 'Час на зміни минув; видалити відгук ще можна.',
      errors: {
        'rating.required': 'Оберіть оцінку від 1 до 5 зірок.',
        'rating.range': 'Оберіть оцінку від 1 до 5 зірок.',
        'body.required': 'Напишіть відгук: від 1 до 10 000 символів.',
        'body.length': 'Напишіть відгук: від 1 до 10 000 символів.',
        'title.length': 'Не більше 200 символів.',
        'author_name.length': 'Не більше 100 символів.',
        'author_name.format': 'Приберіть невидимі символи та символи напрямку тексту.',
        'author_email.length': 'Не більше 254 символів.',
        'notify.required': 'Введіть адресу, щоб отримувати повідомлення.',
        email: 'Введіть адресу на кшталт reader@example.com.',
        blank: 'Напишіть видимий текст, а не лише пробіли чи невидимі символи.',
        control_character: 'Приберіть керівні символи.',
        'reason.required': 'Оберіть причину.',
        'note.length': 'Не більше 500 символів.',
      },
    },
  };


  /** Builds an element. Children go in as text nodes: user content never passes through HTML. */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value == null || value === false) continue;
      element.setAttribute(name, value === true ? '' : value);
    }
    element.append(...children.filter((child) => child != null && child !== false));
    return element;
  }

  /** t(key), t(key, number) for {n} and plural forms, t(key, name) for {name}. */
  function translator(lang) {
    const strings = STRINGS[lang];
    const plural = new Intl.PluralRules(lang);
    const number = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
    const t = (key, value) => {
      let text = strings[key];
      if (typeof text === 'object') text = text[plural.select(value)] || text.other;
      // A function replacement, so that a "$&" in a name stays literal.
      return text.replace(/\{n\}|\{name\}/, () => (typeof value === 'number' ? number.format(value) : value));
    };
    t.number = (value) => number.format(value);
    t.reason = (code) => strings.reasons[code];
    // Own members only: `constructor` is a slug too.
    t.badge = (slug) => (Object.hasOwn(strings.badges, slug) ? strings.badges[slug] : String(slug));
    t.fieldError = (error) =>
      strings.errors[error.field + '.' + error.code] || strings.errors[error.code] || error.message;
    return t;
  }

  /** A random Idempotency-Key (randomUUID needs a secure context: plain http gets 128 random bits). */
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  /** Write positions by service, sent back on reads (docs/deployment.md). @type {Record<string, string>} */
  const positions = {};
  const originOf = (/** @type {string} */ url) => new URL(url, location.href).origin;

  /** Sends a JSON request; resolves to { response, answer } (answer: the parsed body or null).
   * @param {string} url @param {string} method
   * @param {{ body?: unknown, headers?: Record<string, string> }} [options] */
  async function send(url, method, { body, headers } = {}) {
    const response = await fetch(url, {
      method,
      credentials: 'omit',
      headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const position = response.headers.get('Marginalia-Position');
    if (response.ok && position) positions[originOf(url)] = position;
    const answer = response.status === 204 ? null : await response.json().catch(() => null);
    return { response, answer };
  }

  /** Named fields of one form: each shows its error under it, linked with aria-describedby. */
  function fieldSet(id) {
    const fields = {}; // name: where its error shows, what it describes, what it marks invalid
    return {
      fields,
      /** A labelled control with room for its error.
       * @param {string} name @param {string} label @param {HTMLElement & { name: string }} control
       * @param {{ optional?: boolean, hint?: string, optionalText?: string }} [options] */
      add(name, label, control, { optional = false, hint, optionalText } = {}) {
        control.id = `${id}-${name}`;
        control.name = name;
        const hintElement = hint && h('p', { class: 'marginalia__hint', id: control.id + '-hint' }, hint);
        if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
        const error = h('p', { class: 'marginalia__error', id: control.id + '-error', hidden: true });
        fields[name] = { error, hint: hintElement?.id, described: control, invalid: [control], focus: control };
        return h(
          'div',
          { class: 'marginalia__field' },
          h(
            'label',
            { for: control.id },
            label,
            optional && h('span', { class: 'marginalia__optional' }, ` (${optionalText})`),
          ),
          hintElement,
          control,
          error,
        );
      },
      setError(name, message) {
        const { error, hint, described, invalid } = fields[name];
        error.textContent = message || '';
        error.hidden = !message;
        const references = [hint, message && error.id].filter(Boolean).join(' ');
        if (references) described.setAttribute('aria-describedby', references);
        else described.removeAttribute('aria-describedby');
        for (const control of invalid) {
          if (message) control.setAttribute('aria-invalid', 'true');
          else control.removeAttribute('aria-invalid');
        }
      },
      clear() {
        for (const name in fields) this.setError(name, null);
      },
      /** Shows a 422's field errors (by `t`), focusing the first in form order; false if none is ours. */
      show(problem, t) {
        const errors = (problem?.errors || []).filter((error) => Object.hasOwn(fields, error.field));
        if (!errors.length) return false;
        for (const error of errors) this.setError(error.field, t.fieldError(error));
        const first = Object.keys(fields).find((name) => errors.some((error) => error.field === name));
        fields[first].focus.focus();
        return true;
      },
    };
  }

  /** Builds one widget, starts loading its data, and returns its root element. */
  function mount(lang, data) {
    const { articleId, theme, readerTokenUrl, signInUrl, emailNotices } = data;
    const t = translator(lang);
    const articleUrl = api + '/v1/articles/' + encodeURIComponent(articleId);
    const reviewUrl = (reviewId) => api + '/v1/reviews/' + encodeURIComponent(reviewId);
    const dates = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });
    // Unique ids, though in a shadow root: two widgets never share one.
    const id = 'marginalia-' + Math.random().toString(36).slice(2, 8);

    // After the reader's own write, reads revalidate: the HTTP cache holds older copies.
    let revalidate = false;
    async function getJson(url, signal) {
      const position = positions[originOf(url)];
      const response = await fetch(url, {
        credentials: 'omit',
        signal,
        cache: revalidate ? 'no-cache' : 'default',
        headers: position ? { 'Marginalia-Position': position } : undefined,
      });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      return response.json();
    }

    // One polite live region announces every outcome (a repeat with a no-break space: only changes are).
    const live = h('div', { class: 'marginalia__sr-only', role: 'status', 'aria-live': 'polite' });
    const announce = (text) => {
      live.textContent = live.textContent === text ? text + '\u00a0' : text;
    };
    // Focus inside the shadow root shows on the root, not on the document.
    const focusIsLost = () => !root.getRootNode().activeElement;

    const time = (iso) => h('time', { datetime: iso }, dates.format(new Date(iso)));
    const stars = (value, label) => {
      const element = h('span', { class: 'marginalia__stars', role: 'img', 'aria-label': label });
      element.style.setProperty('--_fill', (value / 5) * 100 + '%');
      return element;
    };
    // A signed-in reader's marks: words, not colour alone; spaced, or screen readers run them together.
    const marks = (badges, verified) =>
      [
        verified && h('span', { class: 'marginalia__badge marginalia__verified' }, t('verified')),
        ...badges.map((slug) => h('span', { class: 'marginalia__badge' }, t.badge(slug))),
      ].flatMap((mark) => (mark ? [' ', mark] : []));
    /** What to tell a reader whose action was refused with `response`. */
    const refusal = (response) => {
      const retryAfter = Number(response.headers.get('Retry-After'));
      if (response.status === 429 && retryAfter > 0) return t('actionTooMany', retryAfter);
      if (response.status === 404) return t('actionGone');
      return t('actionFailed');
    };

    // The summary: average, count, and the histogram as text counts (bars are decoration).
    const score = h('p', { class: 'marginalia__score' }, t('loading'));
    const histogram = h('ul', { class: 'marginalia__histogram', 'aria-label': t('distribution') });

    // Reviews without stars are counted, but not in the average (null without a rated one).
    function renderStats(stats) {
      const { average, rated_count: rated } = stats;
      histogram.hidden = !rated;
      if (stats.review_count === 0) {
        score.replaceChildren(t('noReviews'));
        return;
      }
      score.replaceChildren(
        ...(average == null
          ? []
          : [h('span', { class: 'marginalia__average', 'aria-hidden': 'true' }, t.number(average)), stars(average, t('average', average))]),
        h('span', { class: 'marginalia__count' }, t('reviews', stats.review_count)),
      );
      histogram.replaceChildren(
        ...[5, 4, 3, 2, 1].map((rating) => {
          const count = stats.histogram[rating] || 0;
          const bar = h('span');
          bar.style.setProperty('--_share', (count / rated) * 100 + '%');
          return h(
            'li',
            {},
            h('span', {}, t('stars', rating)),
            h('span', { class: 'marginalia__bar', 'aria-hidden': 'true' }, bar),
            h('span', { class: 'marginalia__histogram-count' }, String(count)),
          );
        }),
      );
    }

    let statsRequest = null;
    async function loadStats() {
      statsRequest?.abort(); // after a write, the answer from before it must not land last
      const request = (statsRequest = new AbortController());
      try {
        renderStats(await getJson(articleUrl + '/stats', request.signal));
      } catch {
        if (request.signal.aborted) return;
        score.replaceChildren(t('loadFailed'));
        histogram.hidden = true;
      }
    }

    // The published reviews, a page at a time.
    const sort = h('select', { id: id + '-sort' }, ...SORTS.map((value) => h('option', { value }, t(value))));
    const list = h('ul', { class: 'marginalia__list', 'aria-labelledby': id + '-list' });
    const listError = h(
      'p',
      { class: 'marginalia__notice marginalia__notice--error', hidden: true },
      t('loadFailed'),
    );
    const more = h('button', { type: 'button', class: 'marginalia__more', hidden: true }, t('more'));
    // New reviews wait behind it: the list never moves under the reader.
    const fresh = h('button', { type: 'button', class: 'marginalia__fresh', hidden: true });
    const reviews = h(
      'div',
      { class: 'marginalia__reviews', hidden: true },
      h(
        'div',
        { class: 'marginalia__toolbar' },
        h('h3', { id: id + '-list' }, t('listHeading')),
        h('label', { for: sort.id }, t('sort')),
        sort,
      ),
      listError,
      fresh,
      list,
      more,
    );
    const shown = new Map(); // id → list item: the review a reader just posted may come again in a page
    const pending = new Map(); // id → a review published since, behind the button
    let cursor = null;
    let listRequest = null;

    /** The report form under a review: a reason (required by the API) and an optional note. */
    function reportForm(review, done) {
      const formId = `${id}-report-${review.id}`;
      const form = fieldSet(formId);
      const reason = h(
        'select',
        { required: true, 'aria-required': 'true' },
        h('option', { value: '' }, t('chooseReason')),
        ...Object.keys(STRINGS.en.reasons).map((code) => h('option', { value: code }, t.reason(code))),
      );
      const note = h('textarea', { rows: 3 });
      const sendButton = h('button', { type: 'submit', class: 'marginalia__submit' }, t('sendReport'));
      const cancel = h('button', { type: 'button', class: 'marginalia__secondary' }, t('cancel'));
      const notice = h('p', { class: 'marginalia__notice marginalia__notice--error', hidden: true });
      const element = h(
        'form',
        { class: 'marginalia__report', novalidate: true, 'aria-labelledby': formId + '-heading' },
        h('p', { class: 'marginalia__form-title', id: formId + '-heading' }, t('reportHeading')),
        form.add('reason', t('reason'), reason),
        form.add('note', t('note'), note, { optional: true, optionalText: t('optional') }),
        h('div', { class: 'marginalia__buttons' }, sendButton, cancel),
        notice,
      );
      cancel.addEventListener('click', () => done(false));
      element.addEventListener('keydown', (event) => {
        if (event.key === 'Escape') done(false);
      });
      element.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (sendButton.disabled) return;
        form.clear();
        notice.hidden = true;
        sendButton.disabled = true;
        try {
          const { response, answer } = await send(reviewUrl(review.id) + '/flags', 'POST', {
            body: { reason: reason.value || undefined, note: note.value || undefined },
            headers: await readerHeaders(),
          });
          if (response.status === 204) {
            revalidate = true; // enough reports take a review out of the public reads
            return done(true);
          }
          if (form.show(answer, t)) return;
          notice.textContent = refusal(response);
        } catch {
          notice.textContent = t('actionFailed');
        } finally {
          sendButton.disabled = false;
        }
        notice.hidden = false;
        announce(notice.textContent);
        if (focusIsLost()) sendButton.focus();
      });
      requestAnimationFrame(() => reason.focus());
      return element;
    }

    /** Helpful votes and the report button under a review. */
    function reactions(review) {
      const count = h('span', { class: 'marginalia__helpful-count' });
      const showCount = (helpful) => {
        count.textContent = helpful > 0 ? t('helpfulCount', helpful) : '';
      };
      showCount(review.helpful_count);
      const status = h('p', { class: 'marginalia__hint', tabindex: '-1', hidden: true });
      const say = (text) => {
        status.textContent = text;
        status.hidden = false;
        announce(text);
      };
      const vote = (helpful, label) => {
        const button = h('button', { type: 'button', class: 'marginalia__secondary', 'aria-pressed': 'false' }, label);
        button.addEventListener('click', async () => {
          if (button.disabled) return;
          button.disabled = true;
          try {
            const { response, answer } = await send(reviewUrl(review.id) + '/votes', 'POST', { body: { helpful }, headers: await readerHeaders() });
            if (response.ok && answer) {
              revalidate = true; // later pages must show the new counts
              showCount(answer.helpful_count);
              for (const other of [yes, no]) other.setAttribute('aria-pressed', String(other === button));
              say(t('voted'));
            } else {
              say(refusal(response));
            }
          } catch {
            say(t('actionFailed'));
          } finally {
            button.disabled = false;
            if (focusIsLost()) button.focus();
          }
        });
        return button;
      };
      const yes = vote(true, t('helpful'));
      const no = vote(false, t('notHelpful'));
      const report = h('button', { type: 'button', class: 'marginalia__secondary', 'aria-expanded': 'false' }, t('report'));
      // Each review's buttons are described by its author and date.
      for (const button of [yes, no, report]) button.setAttribute('aria-describedby', `${id}-meta-${review.id}`);
      const element = h('div', { class: 'marginalia__reactions' }, h('div', { class: 'marginalia__buttons' }, yes, no, report, count));
      let open = null;
      report.addEventListener('click', () => {
        if (open) return open.querySelector('select').focus();
        open = reportForm(review, (sent) => {
          open.remove();
          open = null;
          report.setAttribute('aria-expanded', 'false');
          // Once sent, the button gives way to the thanks, focused (a second flag changes nothing).
          if (sent) {
            report.hidden = true;
            say(t('reported'));
            status.focus();
          } else {
            report.focus();
          }
        });
        report.setAttribute('aria-expanded', 'true');
        element.append(open);
      });
      element.append(status);
      return element;
    }

    /** A review's list item; a shown one is updated in place (its buttons and focus stay). */
    function renderReview(review) {
      // The review's text in its own language, so screen readers pronounce it right.
      const lang = review.language;
      const author = h('span', { class: 'marginalia__author' }, review.author_name || t('anonymous'));
      const meta = h(
        'p',
        { class: 'marginalia__meta', id: `${id}-meta-${review.id}` },
        author,
        ...(review.verified ? marks(review.badges, true) : []),
        ' · ',
        time(review.created_at),
      );
      if (review.edited_at) meta.append(' · ', t('edited'));
      const to = review.in_reply_to && answer(h('p', { class: 'marginalia__to', 'data-to': review.in_reply_to }));
      const parts = [
        to,
        review.rating && stars(review.rating, t('rated', review.rating)),
        review.title && h('h4', { lang }, review.title),
        h('p', { class: 'marginalia__text', lang }, review.body),
        meta,
        review.reply &&
          h(
            'div',
            { class: 'marginalia__reply' },
            h(
              'p',
              { class: 'marginalia__meta' },
              h('span', { class: 'marginalia__author' }, t('reply', review.reply.author)),
              ' · ',
              time(review.reply.updated_at),
            ),
            h('p', { class: 'marginalia__text' }, review.reply.body),
          ),
      ].filter(Boolean);
      let item = shown.get(review.id);
      if (item) item.firstChild.replaceChildren(...parts, item.firstChild.lastChild);
      else {
        item = h(
          'li',
          { 'data-review-id': review.id },
          h('article', { class: 'marginalia__review', id: `${id}-r-${review.id}`, tabindex: '-1' }, ...parts, reactions(review)),
        );
        shown.set(review.id, item);
      }
      item.review = review;
      return item;
    }

    /** An answer's line: a link to the review answered while listed (focused: a fragment never
     * reaches into the shadow root), else words alone. */
    function answer(line) {
      const to = line.dataset.to;
      const item = shown.get(to);
      const name = item?.review.author_name;
      const text = t(item ? (name ? 'toReview' : 'toReader') : 'toEarlier', name);
      if (line.textContent === text) return line;
      const link = h('a', { href: `#${id}-r-${to}` }, text);
      link.onclick = (event) => {
        event.preventDefault();
        shown.get(to)?.firstChild.focus();
      };
      line.replaceChildren(item ? link : text);
      return line;
    }

    /** Shows `review` (published) in the list: in its old place if listed, else at the top. */
    function showReview(review) {
      const item = renderReview(review);
      if (!item.isConnected) list.prepend(item);
      unlist(review.id, 1);
    }

    /** Takes a review out of the list (unless `keep`) and from behind the button. */
    function unlist(reviewId, keep) {
      if (!keep) shown.get(reviewId)?.remove(), shown.delete(reviewId);
      pending.delete(reviewId);
      fresh.hidden = !pending.size;
      fresh.textContent = t('fresh', pending.size) + ' — ' + t('show');
      reviews.hidden = !list.children.length && listError.hidden && fresh.hidden;
      list.querySelectorAll('[data-to]').forEach(answer);
    }

    /** Loads the first page (fromStart) or the next one; resolves to the list items it added. */
    async function loadReviews(fromStart) {
      listRequest?.abort(); // after a change of sort, an older answer must not win the race
      const request = (listRequest = new AbortController());
      const query = new URLSearchParams({ sort: sort.value, limit: String(PAGE_SIZE) });
      if (!fromStart) query.set('cursor', cursor);
      more.disabled = true;
      try {
        const page = await getJson(`${articleUrl}/reviews?${query}`, request.signal);
        if (fromStart) {
          list.replaceChildren();
          shown.clear();
          pending.clear();
        }
        const added = page.items.filter((review) => !shown.has(review.id)).map(renderReview);
        list.append(...added);
        cursor = page.next_cursor;
        more.hidden = !cursor;
        listError.hidden = true;
        for (const review of page.items) pending.delete(review.id);
        unlist();
        return added;
      } catch {
        if (!request.signal.aborted) {
          listError.hidden = false;
          reviews.hidden = false;
          announce(t('loadFailed'));
        }
        return [];
      } finally {
        if (request === listRequest) more.disabled = false;
      }
    }

    sort.addEventListener('change', () => loadReviews(true));
    more.addEventListener('click', async () => {
      const added = await loadReviews(false);
      // Focus fell with the button: on to the first new review, else back.
      if (added.length) {
        added[0].firstChild.focus();
        announce(t('shown', added.length));
      } else if (!more.hidden) {
        more.focus();
      }
    });

    // Live updates (docs/widget.md): the article's event stream, else polling.
    fresh.addEventListener('click', async () => {
      const count = pending.size;
      if (sort.value === 'newest') for (const review of pending.values()) showReview(review);
      else await loadReviews(true);
      list.firstChild?.firstChild.focus();
      announce(t('shown', count));
    });
    /** A published review: updated in place when shown, else counted on the button. */
    const published = (review) => {
      if (shown.has(review.id)) return renderReview(review);
      if (!pending.has(review.id)) announce(t('fresh', pending.size + 1));
      pending.set(review.id, review);
      unlist();
    };
    const handlers = {
      'review.published': published,
      'review.updated': (review) => (shown.has(review.id) ? renderReview(review) : pending.has(review.id) && pending.set(review.id, review)),
      'review.removed': (review) => unlist(review.id),
      stats: renderStats,
      reload: () => loadReviews(true),
    };
    handlers['review.replied'] = handlers['review.updated'];

    // Every ~30 s the first page and the stats, with the last ETag (304: unchanged); where none
    // is readable (CORS), the HTTP cache revalidates ('no-cache').
    const tags = {};
    const check = async (url) => {
      const tag = tags[url];
      const response = await fetch(url, {
        credentials: 'omit',
        cache: tag ? 'no-store' : 'no-cache',
        headers: tag ? { 'If-None-Match': tag } : undefined,
      });
      if (response.status !== 200) return;
      tags[url] = response.headers.get('ETag');
      return response.json();
    };
    let timer;
    let polls = 0;
    let known; // ids polled before: not new
    async function poll() {
      clearTimeout(timer);
      timer = setTimeout(poll, 27e3 + Math.random() * 6e3);
      // Every tenth time, try streaming again.
      if (++polls % 10 === 0) return listen();
      if (document.hidden) return;
      try {
        const { items = [] } = (await check(`${articleUrl}/reviews?sort=newest&limit=${PAGE_SIZE}`)) || {};
        for (const review of items) if (shown.has(review.id) || (known && !known.has(review.id))) published(review);
        known = new Set([...(known || []), ...items.map((review) => review.id)]);
        const stats = await check(articleUrl + '/stats');
        if (stats) renderStats(stats);
      } catch {}
    }
    function listen() {
      if (!window.EventSource) return poll();
      const source = new EventSource(articleUrl + '/live');
      let opened;
      source.onopen = () => {
        opened = 1;
        clearTimeout(timer);
      };
      // Refused (CLOSED), or never opened: poll. Else the browser resumes (Last-Event-ID). A
      // stream that worked (a draining node) is tried again at the second poll.
      source.onerror = () => {
        if (opened && source.readyState < 2) return;
        source.close();
        if (opened) polls = 8;
        poll();
      };
      for (const [name, handle] of Object.entries(handlers)) {
        source.addEventListener(name, (event) => {
          revalidate = true; // later reads skip the HTTP cache
          handle(JSON.parse(event.data));
        });
      }
    }

    // The form, also for editing; the server's validation is what counts.
    const form = fieldSet(id);
    const { fields } = form;

    // A native radio group: Tab reaches it, arrow keys choose, each star labelled.
    const radios = [1, 2, 3, 4, 5].map((n) =>
      h('input', { type: 'radio', name: 'rating', value: n, id: `${id}-rating-${n}`, required: true }),
    );
    const ratingError = h('p', { class: 'marginalia__error', id: id + '-rating-error', hidden: true });
    const rating = h(
      'fieldset',
      { class: 'marginalia__rating' },
      h('legend', {}, t('rating')),
      h(
        'div',
        { class: 'marginalia__stars-input' },
        ...radios.flatMap((radio, index) => [
          radio,
          h(
            'label',
            { for: radio.id },
            h('span', { 'aria-hidden': 'true' }, '★'),
            h('span', { class: 'marginalia__sr-only' }, t('stars', index + 1)),
          ),
        ]),
      ),
      ratingError,
    );
    fields.rating = { error: ratingError, described: rating, invalid: radios, focus: radios[0] };

    const optional = { optional: true, optionalText: t('optional') };
    const title = h('input', { type: 'text' });
    const body = h('textarea', { rows: 5, required: true });
    const name = h('input', { type: 'text', autocomplete: 'name' });
    const email = h('input', { type: 'email', autocomplete: 'email' });
    // Notices by email (docs/email.md), where the page offers them.
    const notifyHint = h('p', { class: 'marginalia__hint', id: id + '-notify-hint' }, t('notifyHint'));
    const notify = h('input', { type: 'checkbox', name: 'notify', id: id + '-notify', 'aria-describedby': notifyHint.id });
    // The honeypot: hidden from people and assistive technology; bots fill it in.
    const website = h('input', {
      type: 'text',
      name: 'website',
      id: id + '-website',
      tabindex: '-1',
      autocomplete: 'off',
    });
    const formHeading = h('h3', { id: id + '-form' }, t('formHeading'));
    const submit = h('button', { type: 'submit', class: 'marginalia__submit' }, t('submit'));
    const cancelEdit = h('button', { type: 'button', class: 'marginalia__secondary', hidden: true }, t('cancel'));
    const notice = h('p', { class: 'marginalia__notice', tabindex: '-1', hidden: true });
    const nameField = form.add('author_name', t('name'), name, optional);
    // Only new reviews carry a name and an email: an edit changes rating, title and body.
    const newOnly = [
      nameField,
      form.add('author_email', t('email'), email, { ...optional, hint: t('emailHint') }),
      ...(['', 'true'].includes(emailNotices)
        ? [h('div', { class: 'marginalia__check' }, notify, h('label', { for: notify.id }, t('notify')), notifyHint)]
        : []),
      h(
        'div',
        { class: 'marginalia__honeypot', 'aria-hidden': 'true' },
        h('label', { for: website.id }, t('honeypot')),
        website,
      ),
    ];
    fields.notify = fields.author_email;

    // The reader's own review and its edit token: in this closure only, gone with the page
    // (docs/widget.md, "What the widget keeps").
    let mine = null;
    const editButton = h('button', { type: 'button', class: 'marginalia__secondary' }, t('edit'));
    const removeButton = h('button', { type: 'button', class: 'marginalia__secondary' }, t('remove'));
    const confirmText = h('p', { id: id + '-confirm' }, t('confirmRemove'));
    const confirmButton = h('button', { type: 'button', class: 'marginalia__danger', 'aria-describedby': confirmText.id }, t('confirm'));
    const keepButton = h('button', { type: 'button', class: 'marginalia__secondary' }, t('cancel'));
    const confirmRemove = h(
      'div',
      { class: 'marginalia__confirm', hidden: true },
      confirmText,
      h('div', { class: 'marginalia__buttons' }, confirmButton, keepButton),
    );
    const minePanel = h(
      'section',
      { class: 'marginalia__mine', hidden: true, 'aria-labelledby': id + '-mine' },
      h('h4', { id: id + '-mine' }, t('yours')),
      h('p', { class: 'marginalia__hint' }, t('yoursHint')),
      h('div', { class: 'marginalia__buttons' }, editButton, removeButton),
      confirmRemove,
    );

    // The reader the site's login signed in (docs/readers.md): the token is decoded for display only.
    const readerLine = h('p', { class: 'marginalia__reader', hidden: true });
    const signInLink = () => h('a', { href: signInUrl }, t('signIn'));
    let named = false;
    // Votes and reports count once per reader.
    const readerHeaders = async () => (readerTokenUrl && { 'Marginalia-Reader': await readerToken().catch(() => '') }) || undefined;
    /** A fresh token (they live minutes); '' when nobody is signed in (204, 401). */
    async function readerToken() {
      const response = await fetch(readerTokenUrl, { credentials: 'include', cache: 'no-store' });
      if (!response.ok && response.status !== 401) throw Error(response.statusText);
      const token = response.status === 200 ? (await response.json()).token : '';
      let name, badges;
      try {
        const payload = atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'));
        ({ name, badges } = JSON.parse(new TextDecoder().decode(Uint8Array.from(payload, (c) => c.charCodeAt(0)))));
      } catch {} // malformed: the service says so on submission
      named = !!name && typeof name === 'string';
      notifyHint.textContent = token ? '' : t('notifyHint');
      nameField.hidden = editing || named;
      readerLine.hidden = !token && !signInUrl;
      readerLine.replaceChildren(
        ...(token ? [t(named ? 'signedIn' : 'signedInNameless', name), ...marks(Array.isArray(badges) ? badges : [])] : [signInLink()]),
      );
      return token;
    }

    const formElement = h(
      'form',
      { class: 'marginalia__form', novalidate: true, 'aria-labelledby': formHeading.id },
      formHeading,
      readerLine,
      rating,
      form.add('title', t('title'), title, optional),
      form.add('body', t('body'), body),
      ...newOnly,
      h('div', { class: 'marginalia__buttons' }, submit, cancelEdit),
      notice,
      minePanel,
    );

    function showNotice(text, isError) {
      notice.textContent = text;
      notice.classList.toggle('marginalia__notice--error', isError);
      notice.hidden = false;
      announce(text);
    }

    /** Switches the form between writing a new review and editing the reader's own. */
    function setEditing(editing) {
      formElement.reset();
      form.clear();
      formHeading.textContent = t(editing ? 'editHeading' : 'formHeading');
      submit.textContent = t(editing ? 'save' : 'submit');
      cancelEdit.hidden = !editing;
      for (const element of newOnly) element.hidden = editing;
      nameField.hidden = editing || named;
      editButton.setAttribute('aria-expanded', String(editing));
      if (!editing) return;
      const review = mine.review;
      if (review.rating) radios[review.rating - 1].checked = true;
      title.value = review.title || '';
      body.value = review.body;
    }
    let editing = false;
    editButton.addEventListener('click', () => {
      editing = true;
      setEditing(true);
      radios[(mine.review.rating || 1) - 1].focus();
    });
    cancelEdit.addEventListener('click', () => {
      editing = false;
      setEditing(false);
      editButton.focus();
    });
    removeButton.addEventListener('click', () => {
      confirmRemove.hidden = false;
      confirmButton.focus();
    });
    keepButton.addEventListener('click', () => {
      confirmRemove.hidden = true;
      removeButton.focus();
    });

    function forgetMine() {
      mine = null;
      editing = false;
      setEditing(false);
      minePanel.hidden = true;
      confirmRemove.hidden = true;
    }

    confirmButton.addEventListener('click', async () => {
      if (confirmButton.disabled) return;
      confirmButton.disabled = true;
      try {
        const { response } = await send(reviewUrl(mine.review.id), 'DELETE', { headers: { 'X-Edit-Token': mine.token } });
        if (response.status === 204 || response.status === 404) {
          revalidate = true;
          unlist(mine.review.id);
          forgetMine();
          loadStats();
          showNotice(t(response.status === 204 ? 'removed' : 'actionGone'), response.status !== 204);
          notice.focus();
        } else {
          showNotice(refusal(response), true);
        }
      } catch {
        showNotice(t('actionFailed'), true);
      } finally {
        confirmButton.disabled = false;
        if (focusIsLost()) (confirmRemove.hidden ? notice : confirmButton).focus();
      }
    });

    /** After a write the server accepted: the list, the stats and the reader's own review. */
    function stored(review, token) {
      revalidate = true;
      mine = { review, token };
      minePanel.hidden = false;
      if (review.status === 'published') showReview(review);
      else unlist(review.id);
      loadStats();
    }

    function rejected(response, problem) {
      if (form.show(problem, t)) return showNotice(t('invalid'), true);
      const error = problem?.errors?.[0];
      if (!editing && error?.field === 'Marginalia-Reader') {
        // The reader refused: their token (401; `required`: the site takes no anonymous reviews),
        // a suspension (403), or their review of this article already there (409).
        const status = response.status;
        const key =
          status === 403 ? 'suspended'
          : status === 409 ? 'reviewedAlready'
          : /^required/.test(error.message) ? 'signInRequired'
          : 'signInFailed';
        showNotice(t(key), true);
        if (status === 401 && signInUrl) notice.append(' ', signInLink());
        return;
      }
      const retryAfter = Number(response.headers.get('Retry-After'));
      if (response.status === 429 && retryAfter > 0) showNotice(t('tooMany', retryAfter), true);
      else if (response.status === 409 && editing) {
        // The edit window closed: deleting is still possible.
        editing = false;
        setEditing(false);
        editButton.hidden = true;
        showNotice(t('editClosed'), true);
      } else if (response.status === 409) showNotice(t('closed'), true);
      else if (response.status === 404) showNotice(t(editing ? 'actionGone' : 'unknown'), true);
      else showNotice(t('failed'), true);
    }

    async function saveEdit() {
      const checked = radios.find((radio) => radio.checked);
      const { response, answer } = await send(reviewUrl(mine.review.id), 'PATCH', {
        headers: { 'X-Edit-Token': mine.token },
        body: { rating: checked ? Number(checked.value) : undefined, title: title.value || null, body: body.value },
      });
      if (response.status !== 200) return rejected(response, answer);
      editing = false;
      stored(answer, mine.token);
      setEditing(false);
      showNotice(t(answer.status === 'published' ? 'saved' : 'savedPending'), false);
    }

    // One Idempotency-Key per submission: a retry after a lost answer stores no second review.
    let attempt = null;
    async function sendNew() {
      const reader = readerTokenUrl && (await readerToken());
      // A signed-in reader's token may hold the address.
      if (notify.checked && !reader && !email.value) return rejected(0, { errors: [{ field: 'notify', code: 'required' }] });
      const checked = radios.find((radio) => radio.checked);
      const payload = {
        rating: checked ? Number(checked.value) : undefined,
        title: title.value || undefined,
        body: body.value,
        author_name: (!named && name.value) || undefined,
        author_email: email.value || undefined,
        notify: notify.checked || undefined,
        website: website.value,
      };
      // After signing in, a new submission: the first, if stored, was anonymous.
      const text = JSON.stringify(payload) + !!reader;
      if (attempt?.text !== text) attempt = { text, key: newKey() };
      const { response, answer } = await send(articleUrl + '/reviews', 'POST', {
        headers: { 'Idempotency-Key': attempt.key, ...(reader && { 'Marginalia-Reader': reader }) },
        body: payload,
      });
      if (response.status !== 201) return rejected(response, answer);
      attempt = null;
      const { edit_token: token, ...review } = answer;
      formElement.reset();
      editButton.hidden = false;
      stored(review, token);
      showNotice(t(review.status === 'published' ? 'published' : 'pending'), false);
    }

    formElement.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      form.clear();
      notice.hidden = true;
      submit.disabled = true;
      try {
        await (editing ? saveEdit() : sendNew());
      } catch {
        showNotice(t('offline'), true);
      } finally {
        submit.disabled = false;
        // Disabling the button dropped focus: give it back.
        if (focusIsLost()) submit.focus();
      }
    });

    loadStats();
    loadReviews(true);
    listen();
    if (readerTokenUrl) readerToken().catch(() => {});
    const root = h(
      'section',
      { class: 'marginalia', lang, 'data-theme': theme, 'aria-labelledby': id + '-heading' },
      h('h2', { id: id + '-heading' }, t('heading')),
      h('div', { class: 'marginalia__summary' }, score, histogram),
      formElement,
      reviews,
      live,
    );
    return root;
  }

  // An arrow function, so that `script` is still known to be a script element.
  const start = () => {
    const data = script.dataset;
    const selector = data.target || '#marginalia-reviews';
    const target = document.querySelector(selector);
    if (!data.articleId || !target) {
      const problem = data.articleId ? `no element matches ${selector}` : 'data-article-id is missing';
      console.warn(`Marginalia: ${problem}`);
      return;
    }
    // data-lang, else the language of the article around the target (up to <html lang>).
    const around = target.closest('[lang]');
    const tag = (data.lang || (around instanceof HTMLElement ? around.lang : '') || '').toLowerCase().split('-')[0];
    const lang = Object.hasOwn(STRINGS, tag) ? tag : 'en';
    // A shadow root keeps styles apart (themes inherit custom properties); its own element name,
    // so page rules for `div` miss the host.
    const host = document.createElement('marginalia-reviews');
    const shadow = host.attachShadow({ mode: 'open' });
    const link = h('link', { rel: 'stylesheet', href: CSS_URL });
    const root = mount(lang, data);
    // Shown once the styles load (or fail: plain but usable), never unstyled with the honeypot in
    // view; until then the target keeps what it held ("Loading…", say).
    root.hidden = true;
    const show = () => {
      root.hidden = false;
      for (const node of [...target.childNodes]) if (node !== host) node.remove();
    };
    link.addEventListener('load', show, { once: true });
    link.addEventListener('error', show, { once: true });
    shadow.append(link, root);
    target.append(host);
  };

  // An async script may run before the parser has reached its target.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
})();
