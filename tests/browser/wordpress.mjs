// The Chromium half of tests/wordpress/drive.py: a reader reviews a WordPress post through the
// widget the plugin embedded, and an editor's wp-admin pages are photographed. Each step asserts;
// the result goes to stdout as one JSON line for drive.py to check against Marginalia and MariaDB.
//
//   node tests/browser/wordpress.mjs review '{"post_url": …, "rating": 4, "body": …}'
//   node tests/browser/wordpress.mjs screenshots '{"base": …, "user": …, "password": …,
//                                                  "post_url": …, "rating_text": …, "dir": …}'
//   node tests/browser/wordpress.mjs reader '{"base": …, "user": …, "password": …, "post_url": …,
//                                             "name": …, "rating": 5, "body": …,
//                                             "token_url": …, "elsewhere": <another origin's page>}'
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchChromium } from './launch.mjs';

const viewport = { width: 1280, height: 900 };
const [command, argument] = process.argv.slice(2);
const options = JSON.parse(argument || '{}');

/** A page that fails the run on any script error or on a request leaving 127.0.0.1. */
async function openPage(browser) {
  const context = await browser.newContext({ viewport, locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const troubles = [];
  page.on('pageerror', (error) => troubles.push(`script error: ${error.message}`));
  page.on('request', (request) => {
    const { hostname, protocol } = new URL(request.url());
    if (!['data:', 'blob:', 'about:'].includes(protocol) && hostname !== '127.0.0.1') {
      troubles.push(`a request left the machine: ${request.url()}`);
    }
  });
  return { context, page, troubles };
}

/** Logs `options.user` in through wp-login.php. */
async function logIn(page) {
  await page.goto(`${options.base}/wp-login.php`);
  await page.locator('#user_login').fill(options.user);
  await page.locator('#user_pass').fill(options.password);
  // The first wp-admin page after a login does WordPress's own first-visit work: on a loaded
  // two-core CI machine it once took longer than the default 20 s.
  await Promise.all([page.waitForURL(/wp-admin/, { timeout: 60_000 }), page.locator('#wp-submit').click()]);
}

/** Chooses the stars, writes the body and sends the widget's form; the POST's response. */
async function sendReview(page, widget) {
  // The stars are radios drawn by their labels; chosen from the keyboard, as the widget's own test does.
  const star = widget.locator(`.marginalia fieldset input[value="${options.rating}"]`);
  await star.focus();
  await page.keyboard.press('Space');
  assert.ok(await star.isChecked(), `${options.rating} stars chosen`);
  await widget.locator('.marginalia textarea').fill(options.body);
  const created = page.waitForResponse((response) => response.request().method() === 'POST');
  await widget.locator('.marginalia__submit').click();
  const answer = await created;
  assert.equal(answer.status(), 201, `the widget's POST ${answer.url()}`);
  return answer;
}

/** The post's page as a reader sees it: the widget below the content, a review sent through it. */
async function review(browser) {
  const { context, page, troubles } = await openPage(browser);
  await page.goto(options.post_url);
  const widget = page.locator('marginalia-reviews');
  await widget.locator('.marginalia textarea').waitFor();
  const answer = await sendReview(page, widget);
  const { id } = await answer.json();
  assert.deepEqual(troubles, []);
  await context.close();
  return { id, url: answer.url() };
}

/**
 * A WordPress user logged in: the widget on the post's page fetches their reader token from the
 * plugin's route (the page's own origin) and sends it with the review. Then a page of another
 * origin of the same host (so the browser sends WordPress's cookies along) asks the route for a
 * token with the user's cookies, as an attacker's page would: its answer, for drive.py to check.
 */
async function reader(browser) {
  const { context, page, troubles } = await openPage(browser);
  await logIn(page);
  await page.goto(options.post_url);
  const widget = page.locator('marginalia-reviews');
  await widget.locator('.marginalia__reader').filter({ hasText: options.name }).waitFor();
  const answer = await sendReview(page, widget);
  assert.ok(answer.request().headers()['marginalia-reader'], 'the review carries the reader token');
  const { id } = await answer.json();

  await page.goto(options.elsewhere);
  // What WordPress answered, seen on the network whether or not CORS lets the page read it.
  const answered = page.waitForResponse(options.token_url);
  const read = await page.evaluate(async (url) => {
    try {
      const response = await fetch(url, { credentials: 'include' });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      return { status: 0, text: String(error) };
    }
  }, options.token_url);
  const response = await answered;
  const cookies = (await response.request().allHeaders()).cookie || '';
  const elsewhere = {
    status: response.status(),
    text: await response.text(),
    loggedInCookieSent: /wordpress_logged_in_/.test(cookies),
    read,
  };
  assert.deepEqual(troubles, []);
  await context.close();
  return { id, elsewhere };
}

/** The settings page, the posts list with its Rating column, and the post with the widget. */
async function screenshots(browser) {
  const { context, page, troubles } = await openPage(browser);
  await logIn(page);
  const shot = (name) => path.join(options.dir, name);

  await page.goto(`${options.base}/wp-admin/options-general.php?page=marginalia`);
  await page.getByRole('heading', { name: 'Marginalia reviews' }).waitFor();
  for (const label of ['Signing secret', 'Endpoint secrets', 'API key']) {
    assert.equal(await page.getByLabel(label).inputValue(), '', `${label} is never shown back`);
  }
  await page.screenshot({ path: shot('wordpress-settings.png'), fullPage: true });

  await page.goto(`${options.base}/wp-admin/edit.php?orderby=marginalia_rating&order=desc`);
  const rating = page.locator('td.column-marginalia_rating').first();
  assert.equal((await rating.innerText()).trim(), options.rating_text, 'the Rating column');
  await page.screenshot({ path: shot('wordpress-posts.png') });

  assert.deepEqual(troubles, []);
  await context.close();

  // The post as a reader sees it (no admin bar).
  const reader = await openPage(browser);
  await reader.page.goto(options.post_url);
  await reader.page.locator('marginalia-reviews .marginalia__count').waitFor();
  await reader.page.screenshot({ path: shot('wordpress-post.png'), fullPage: true });
  assert.deepEqual(reader.troubles, []);
  await reader.context.close();
  return { written: ['wordpress-settings.png', 'wordpress-posts.png', 'wordpress-post.png'] };
}

const commands = { review, reader, screenshots };
assert.ok(command in commands, `a command: ${Object.keys(commands).join(' or ')}`);
const browser = await launchChromium();
try {
  console.log(JSON.stringify(await commands[command](browser)));
} finally {
  await browser.close();
}
