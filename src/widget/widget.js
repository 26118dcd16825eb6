/*! Marginalia review widget: plain JavaScript, no dependencies, no cookies, no storage.
 *
 *   <div id="marginalia-reviews"></div>
 *   <script src="https://reviews.example.org/widget.js" data-article-id="…" async></script>
 *
 * Optional attributes: data-target (a CSS selector), data-lang (uk, en), data-theme (light, dark).
 * Documentation: docs/widget.md in the Marginalia repository. */
(() => {
  'use strict';

  // Only set while this file first runs (async scripts included), so capture it before any await.
  const script = document.currentScript;
  if (!script) return; // null in a module script: the widget is a classic script
  const api = new URL(script.src).origin;
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
      anonymous: 'Anonymous reader',
      edited: 'edited',
      reply: 'Reply from {name}',
      formHeading: 'Write a review',
      rating: 'Your rating',
      title: 'Title',
      body: 'Your review',
      name: 'Your name',
      email: 'Email',
      optional: 'optional',
      emailHint: 'Only the newsroom sees it; it is never published.',
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
        email: 'Enter an email address such as reader@example.com.',
        blank: 'Write some visible text, not only spaces or invisible characters.',
        control_character: 'Remove control characters.',
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
      anonymous: 'Анонімний читач',
      edited: 'змінено',
      reply: 'Відповідає {name}',
      formHeading: 'Напишіть відгук',
      rating: 'Ваша оцінка',
      title: 'Заголовок',
      body: 'Ваш відгук',
      name: 'Ваше ім’я',
      email: 'Електронна пошта',
      optional: 'необов’язково',
      emailHint: 'Її бачить лише редакція; вона ніколи не публікується.',
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
      errors: {
        'rating.required': 'Оберіть оцінку від 1 до 5 зірок.',
        'rating.range': 'Оберіть оцінку від 1 до 5 зірок.',
        'body.required': 'Напишіть відгук: від 1 до 10 000 символів.',
        'body.length': 'Напишіть відгук: від 1 до 10 000 символів.',
        'title.length': 'Не більше 200 символів.',
        'author_name.length': 'Не більше 100 символів.',
        'author_name.format': 'Приберіть невидимі символи та символи напрямку тексту.',
        'author_email.length': 'Не більше 254 символів.',
        email: 'Введіть адресу на кшталт reader@example.com.',
        blank: 'Напишіть видимий текст, а не лише пробіли чи невидимі символи.',
        control_character: 'Приберіть керівні символи.',
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
    t.fieldError = (error) =>
      strings.errors[error.field + '.' + error.code] || strings.errors[error.code] || error.message;
    return t;
  }

  /** A random Idempotency-Key. randomUUID exists only in secure contexts; a plain-http page still
   * gets 128 random bits. */
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  async function getJson(url, signal) {
    const response = await fetch(url, { credentials: 'omit', signal });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  /** Resolves once widget.css has loaded, so that the widget does not flash unstyled with its
   * honeypot in view. If the stylesheet fails, the widget shows anyway: plain but usable, and the
   * honeypot's label asks people to leave it empty. The page may also link the stylesheet itself. */
  function stylesheet() {
    const href = api + '/widget.css?v=__MARGINALIA_CSS_VERSION__';
    const links = Array.from(document.querySelectorAll('link[rel~="stylesheet"]'));
    let link = links.find((candidate) => candidate.href === href);
    if (link && link.sheet) return Promise.resolve();
    if (!link) document.head.append((link = h('link', { rel: 'stylesheet', href })));
    return new Promise((resolve) => {
      link.addEventListener('load', resolve);
      link.addEventListener('error', resolve);
    });
  }

  /** Builds one widget, starts loading its data, and returns its root element. */
  function mount(articleId, lang, theme) {
    const t = translator(lang);
    const articleUrl = api + '/v1/articles/' + encodeURIComponent(articleId);
    const dates = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });
    // Element ids must stay unique when a page embeds several widgets.
    const id = 'marginalia-' + Math.random().toString(36).slice(2, 8);

    // One polite live region announces every outcome. Screen readers announce changes, so a
    // repeated message (a second failed retry) alternates a trailing no-break space.
    const live = h('div', { class: 'marginalia__sr-only', role: 'status' });
    const announce = (text) => {
      live.textContent = live.textContent === text ? text + '\u00a0' : text;
    };

    const time = (iso) => h('time', { datetime: iso }, dates.format(new Date(iso)));
    const stars = (value, label) => {
      const element = h('span', { class: 'marginalia__stars', role: 'img', 'aria-label': label });
      element.style.setProperty('--_fill', (value / 5) * 100 + '%');
      return element;
    };

    // The summary: average, count, and the histogram as a list of text counts (bars are decoration).
    const score = h('p', { class: 'marginalia__score' }, t('loading'));
    const histogram = h('ul', { class: 'marginalia__histogram', 'aria-label': t('distribution') });

    function renderStats(stats) {
      histogram.hidden = stats.review_count === 0;
      if (stats.review_count === 0) {
        score.replaceChildren(t('noReviews'));
        return;
      }
      score.replaceChildren(
        h('span', { class: 'marginalia__average', 'aria-hidden': 'true' }, t.number(stats.average)),
        stars(stats.average, t('average', stats.average)),
        h('span', { class: 'marginalia__count' }, t('reviews', stats.review_count)),
      );
      histogram.replaceChildren(
        ...[5, 4, 3, 2, 1].map((rating) => {
          const count = stats.histogram[rating] || 0;
          const bar = h('span');
          bar.style.setProperty('--_share', (count / stats.review_count) * 100 + '%');
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

    async function loadStats() {
      try {
        renderStats(await getJson(articleUrl + '/stats'));
      } catch {
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
      list,
      more,
    );
    const shown = new Set(); // ids on screen: the review a reader just posted may come again in a page
    let cursor = null;
    let listRequest = null;

    function renderReview(review) {
      shown.add(review.id);
      // The review's text in its own language (when known), so screen readers pronounce it right.
      const lang = review.language;
      const author = h('span', { class: 'marginalia__author' }, review.author_name || t('anonymous'));
      const meta = h('p', { class: 'marginalia__meta' }, author, ' · ', time(review.created_at));
      if (review.edited_at) meta.append(' · ', t('edited'));
      const reply =
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
        );
      return h(
        'li',
        {},
        h(
          'article',
          { class: 'marginalia__review', tabindex: '-1' },
          stars(review.rating, t('rated', review.rating)),
          review.title && h('h4', { lang }, review.title),
          h('p', { class: 'marginalia__text', lang }, review.body),
          meta,
          reply,
        ),
      );
    }

    /** Loads the first page (fromStart) or the next one; resolves to the list items it added. */
    async function loadReviews(fromStart) {
      listRequest?.abort(); // after a change of sort, an older answer must not win the race
      const request = (listRequest = new AbortController());
      const query = new URLSearchParams({ sort: sort.value, limit: PAGE_SIZE });
      if (!fromStart) query.set('cursor', cursor);
      more.disabled = true;
      try {
        const page = await getJson(`${articleUrl}/reviews?${query}`, request.signal);
        if (fromStart) {
          list.replaceChildren();
          shown.clear();
        }
        const added = page.items.filter((review) => !shown.has(review.id)).map(renderReview);
        list.append(...added);
        cursor = page.next_cursor;
        more.hidden = !cursor;
        listError.hidden = true;
        reviews.hidden = list.children.length === 0;
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
      // Disabling the button dropped keyboard focus, and the last page hides it: focus moves on to
      // the first new review, or back to the button after a failure.
      if (added.length) {
        added[0].firstChild.focus();
        announce(t('shown', added.length));
      } else if (!more.hidden) {
        more.focus();
      }
    });

    // The form. Validation is the server's: its rules (trimming, NFC, invisible characters) are the
    // ones that count, and its field errors are shown next to their fields.
    const fields = {}; // name: where its error shows, what it describes, what it marks invalid
    function field(name, label, control, { optional = false, hint } = {}) {
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
          optional && h('span', { class: 'marginalia__optional' }, ` (${t('optional')})`),
        ),
        hintElement,
        control,
        error,
      );
    }

    // A native radio group: Tab reaches it, arrow keys choose, each star is labelled "3 stars".
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

    const title = h('input', { type: 'text' });
    const body = h('textarea', { rows: 5, required: true });
    const name = h('input', { type: 'text', autocomplete: 'name' });
    const email = h('input', { type: 'email', autocomplete: 'email' });
    // The honeypot: people never see it and assistive technology skips it; bots fill it in.
    const website = h('input', {
      type: 'text',
      name: 'website',
      id: id + '-website',
      tabindex: '-1',
      autocomplete: 'off',
    });
    const submit = h('button', { type: 'submit', class: 'marginalia__submit' }, t('submit'));
    const notice = h('p', { class: 'marginalia__notice', hidden: true });
    const form = h(
      'form',
      { class: 'marginalia__form', novalidate: true, 'aria-labelledby': id + '-form' },
      h('h3', { id: id + '-form' }, t('formHeading')),
      rating,
      field('title', t('title'), title, { optional: true }),
      field('body', t('body'), body),
      field('author_name', t('name'), name, { optional: true }),
      field('author_email', t('email'), email, { optional: true, hint: t('emailHint') }),
      h(
        'div',
        { class: 'marginalia__honeypot', 'aria-hidden': 'true' },
        h('label', { for: website.id }, t('honeypot')),
        website,
      ),
      submit,
      notice,
    );

    function showNotice(text, isError) {
      notice.textContent = text;
      notice.classList.toggle('marginalia__notice--error', isError);
      notice.hidden = false;
      announce(text);
    }

    function setFieldError(name, message) {
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
    }

    function rejected(response, problem) {
      const errors = (problem?.errors || []).filter((error) => Object.hasOwn(fields, error.field));
      if (errors.length) {
        for (const error of errors) setFieldError(error.field, t.fieldError(error));
        showNotice(t('invalid'), true);
        // The server names fields in its own order; focus goes to the first one in the form.
        const first = Object.keys(fields).find((name) => errors.some((error) => error.field === name));
        fields[first].focus.focus();
        return;
      }
      const retryAfter = Number(response.headers.get('Retry-After'));
      if (response.status === 429 && retryAfter > 0) showNotice(t('tooMany', retryAfter), true);
      else if (response.status === 409) showNotice(t('closed'), true);
      else if (response.status === 404) showNotice(t('unknown'), true);
      else showNotice(t('failed'), true);
    }

    function accepted(review) {
      form.reset();
      if (review.status === 'published') {
        list.prepend(renderReview(review));
        reviews.hidden = false;
        loadStats();
        showNotice(t('published'), false);
      } else {
        showNotice(t('pending'), false);
      }
    }

    // One Idempotency-Key per distinct submission: a retry of the same text (after a lost answer)
    // sends the same key, so the server stores one review and answers every attempt alike.
    let attempt = null;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      const checked = radios.find((radio) => radio.checked);
      const payload = JSON.stringify({
        rating: checked ? Number(checked.value) : undefined,
        title: title.value || undefined,
        body: body.value,
        author_name: name.value || undefined,
        author_email: email.value || undefined,
        website: website.value,
      });
      if (attempt?.payload !== payload) attempt = { payload, key: newKey() };
      for (const fieldName in fields) setFieldError(fieldName, null);
      notice.hidden = true;
      submit.disabled = true;
      try {
        const response = await fetch(articleUrl + '/reviews', {
          method: 'POST',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': attempt.key },
          body: payload,
        });
        const answer = await response.json().catch(() => null);
        if (response.status === 201) {
          attempt = null;
          accepted(answer);
        } else {
          rejected(response, answer);
        }
      } catch {
        showNotice(t('offline'), true);
      } finally {
        submit.disabled = false;
        // Disabling the focused button dropped keyboard focus to the page: give it back.
        if (!document.activeElement || document.activeElement === document.body) submit.focus();
      }
    });

    loadStats();
    loadReviews(true);
    return h(
      'section',
      { class: 'marginalia', lang, 'data-theme': theme, 'aria-labelledby': id + '-heading' },
      h('h2', { id: id + '-heading' }, t('heading')),
      h('div', { class: 'marginalia__summary' }, score, histogram),
      form,
      reviews,
      live,
    );
  }

  function start() {
    const articleId = script.dataset.articleId;
    const selector = script.dataset.target || '#marginalia-reviews';
    const target = document.querySelector(selector);
    if (!articleId || !target) {
      const problem = articleId ? `no element matches ${selector}` : 'data-article-id is missing';
      console.warn(`Marginalia: ${problem}`);
      return;
    }
    // data-lang, else the language of the article around the target (up to <html lang>).
    const tag = (script.dataset.lang || target.closest('[lang]')?.lang || '').toLowerCase().split('-')[0];
    const lang = Object.hasOwn(STRINGS, tag) ? tag : 'en';
    const styled = stylesheet(); // first: it decides when the widget shows
    const root = mount(articleId, lang, script.dataset.theme);
    styled.then(() => target.replaceChildren(root));
  }

  // An async script may run before the parser has reached its target.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
})();
