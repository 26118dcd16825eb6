// A reader-and-CMS flow through the TypeScript client generated from openapi/openapi.json
// (openapi-typescript types + openapi-fetch), against a live service. Run by tests/clients/run.sh:
//
//   MARGINALIA_URL=http://127.0.0.1:8080 MARGINALIA_CMS_KEY=... npx tsx flow.ts
//
// MARGINALIA_ARTICLE_ID (default: the fixture's id with "-ts") names the article it registers and
// reviews, so that several flows can share one service. It needs a service that publishes the
// fixture reviews at once (post-moderation, the default) and takes them all from one address
// (MARGINALIA_RATE_LIMIT_REVIEWS=0). Any mismatch exits 1 with a message naming it.

import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type Schemas = components["schemas"];
type CreateReviewRequest = Schemas["CreateReviewRequest"];
type PutArticleRequest = Schemas["PutArticleRequest"];
type ArticleStats = Schemas["ArticleStats"];
type Problem = Schemas["Problem"];
type Rating = 1 | 2 | 3 | 4 | 5;

class Mismatch extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Mismatch(message);
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Mismatch(`${name} is not set`);
  return value;
}

const baseUrl = env("MARGINALIA_URL");
const cmsKey = env("MARGINALIA_CMS_KEY");

const fixtures = new URL("../../fixtures/", import.meta.url);
// The fixture article as a CMS sends it; `body` is the article's text, which PUT does not take.
const fixtureArticle = JSON.parse(readFileSync(new URL("article.json", fixtures), "utf8")) as PutArticleRequest & {
  article_id: string;
  body: string;
};
const fixtureReviews = JSON.parse(
  readFileSync(new URL("reviews-valid.json", fixtures), "utf8"),
) as CreateReviewRequest[];

const articleId = process.env["MARGINALIA_ARTICLE_ID"] || `${fixtureArticle.article_id}-ts`;
const otherArticleId = `${articleId}-other`;

// One client for the public API, one that sends the CMS's key on every request.
const client = createClient<paths>({ baseUrl });
const cms = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${cmsKey}` } });

function step(message: string): void {
  console.log(`typescript: ${message}`);
}

async function registerArticle(id: string, title: string): Promise<void> {
  const { article_id: _id, body: _text, ...fields } = fixtureArticle;
  const body: PutArticleRequest = { ...fields, title };
  const { data, error, response } = await cms.PUT("/v1/articles/{article_id}", {
    params: { path: { article_id: id } },
    body,
  });
  check(data !== undefined, `PUT /v1/articles/${id}: ${response.status} ${show(error)}`);
  check(response.status === 201 || response.status === 200, `PUT /v1/articles/${id}: status ${response.status}`);
  check(data.article_id === id, `PUT /v1/articles/${id}: article_id ${show(data.article_id)}`);
  check(data.title === title, `PUT /v1/articles/${id}: title ${show(data.title)}`);
  check(data.url === fixtureArticle.url, `PUT /v1/articles/${id}: url ${show(data.url)}`);
  check(data.section === fixtureArticle.section, `PUT /v1/articles/${id}: section ${show(data.section)}`);
  check(data.reviews_open, `PUT /v1/articles/${id}: reviews are closed`);
  check(data.lifecycle === "published", `PUT /v1/articles/${id}: lifecycle ${data.lifecycle}`);
  check(
    data.published_at !== null && Date.parse(data.published_at) === Date.parse(fixtureArticle.published_at ?? ""),
    `PUT /v1/articles/${id}: published_at ${show(data.published_at)}`,
  );
}

async function submit(review: CreateReviewRequest): Promise<Schemas["CreatedReview"]> {
  const { data, error, response } = await client.POST("/v1/articles/{article_id}/reviews", {
    params: { path: { article_id: articleId } },
    body: review,
  });
  check(data !== undefined, `POST reviews: ${response.status} ${show(error)}`);
  check(response.status === 201, `POST reviews: status ${response.status}, expected 201`);
  check(data.status === "published", `POST reviews: status ${show(data.status)} for ${show(review.body)}`);
  check(typeof data.edit_token === "string" && data.edit_token.length > 0, "POST reviews: no edit_token");
  check(data.article_id === articleId, `POST reviews: article_id ${show(data.article_id)}`);
  check(data.rating === review.rating, `POST reviews: rating ${data.rating}, sent ${review.rating}`);
  check(data.body === review.body?.normalize("NFC"), `POST reviews: body ${show(data.body)}`);
  check(data.title === (review.title ?? null), `POST reviews: title ${show(data.title)}`);
  check(data.author_name === (review.author_name ?? null), `POST reviews: author_name ${show(data.author_name)}`);
  if (review.language) check(data.language === review.language, `POST reviews: language ${show(data.language)}`);
  check(!("author_email" in data), "POST reviews: the answer shows the author's email");
  const location = response.headers.get("Location");
  check(location !== null && location.endsWith(`/v1/reviews/${data.id}`), `POST reviews: Location ${show(location)}`);
  return data;
}

function expectedStats(id: string, ratings: Rating[]): ArticleStats {
  const histogram: Schemas["Histogram"] = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };
  for (const rating of ratings) histogram[rating] += 1;
  const sum = ratings.reduce((total, rating) => total + rating, 0);
  return {
    article_id: id,
    review_count: ratings.length,
    rated_count: ratings.length,
    average: ratings.length === 0 ? null : Math.round((sum / ratings.length) * 100) / 100,
    histogram,
  };
}

function checkStats(where: string, actual: ArticleStats | undefined, expected: ArticleStats): void {
  check(actual !== undefined, `${where}: no stats for ${expected.article_id}`);
  const same =
    actual.article_id === expected.article_id &&
    actual.review_count === expected.review_count &&
    actual.rated_count === expected.rated_count &&
    (actual.average === null || expected.average === null
      ? actual.average === expected.average
      : Math.abs(actual.average - expected.average) < 1e-9) &&
    ([1, 2, 3, 4, 5] as const).every((rating) => actual.histogram[rating] === expected.histogram[rating]);
  check(same, `${where}: got ${show(actual)}, expected ${show(expected)}`);
}

async function main(): Promise<void> {
  // 1. The CMS registers the fixture article (and a second one, for the bulk stats).
  await registerArticle(articleId, fixtureArticle.title ?? articleId);
  await registerArticle(otherArticleId, `${fixtureArticle.title ?? articleId} (other)`);
  step(`registered ${articleId} and ${otherArticleId} with the cms key`);

  // Without the key the same call is a typed 401 problem.
  const anonymous = await client.PUT("/v1/articles/{article_id}", {
    params: { path: { article_id: articleId } },
    body: { title: "no key" },
  });
  check(anonymous.response.status === 401, `PUT without a key: status ${anonymous.response.status}`);
  check(anonymous.error?.type === "urn:marginalia:problem:unauthorized", `PUT without a key: ${show(anonymous.error)}`);

  // 2. A Ukrainian review first, then every other valid fixture review.
  const ukrainian = fixtureReviews.find((review) => review.language === "uk");
  check(ukrainian !== undefined, "reviews-valid.json has no Ukrainian review");
  const created = [await submit(ukrainian)];
  step(`submitted the Ukrainian review: 201, status ${created[0]?.status}, edit_token present`);
  for (const review of fixtureReviews) {
    if (review !== ukrainian) created.push(await submit(review));
  }
  step(`submitted ${created.length} reviews`);

  // 3. Page through the article's reviews two at a time, following next_cursor until it is null.
  const seen = new Map<string, number>();
  let cursor: string | undefined;
  let pages = 0;
  let previousCreatedAt = Number.POSITIVE_INFINITY;
  for (;;) {
    const { data, error, response } = await client.GET("/v1/articles/{article_id}/reviews", {
      params: { path: { article_id: articleId }, query: cursor === undefined ? { limit: 2 } : { limit: 2, cursor } },
    });
    check(data !== undefined, `GET reviews page ${pages + 1}: ${response.status} ${show(error)}`);
    pages += 1;
    check(pages <= created.length + 1, `GET reviews: more than ${created.length + 1} pages`);
    check(data.items.length <= 2, `GET reviews page ${pages}: ${data.items.length} items with limit=2`);
    for (const review of data.items) {
      seen.set(review.id, (seen.get(review.id) ?? 0) + 1);
      const createdAt = Date.parse(review.created_at);
      check(createdAt <= previousCreatedAt, `GET reviews page ${pages}: not newest first at ${review.id}`);
      previousCreatedAt = createdAt;
    }
    if (data.next_cursor === null) break;
    cursor = data.next_cursor;
  }
  for (const review of created) {
    check(seen.get(review.id) === 1, `GET reviews: review ${review.id} seen ${seen.get(review.id) ?? 0} times`);
  }
  check(seen.size === created.length, `GET reviews: ${seen.size} distinct reviews, expected ${created.length}`);
  step(`paged with limit=2 through ${pages} pages: each of the ${created.length} reviews exactly once`);

  // 4. Stats of the article, then bulk stats of both articles (in request order).
  const expected = expectedStats(articleId, created.map((review) => review.rating as Rating));
  const one = await client.GET("/v1/articles/{article_id}/stats", { params: { path: { article_id: articleId } } });
  check(one.data !== undefined, `GET stats: ${one.response.status} ${show(one.error)}`);
  checkStats("GET /v1/articles/{article_id}/stats", one.data, expected);
  const bulk = await client.GET("/v1/stats", { params: { query: { article_id: [articleId, otherArticleId] } } });
  check(bulk.data !== undefined, `GET /v1/stats: ${bulk.response.status} ${show(bulk.error)}`);
  check(bulk.data.stats.length === 2, `GET /v1/stats: ${bulk.data.stats.length} entries, expected 2`);
  checkStats("GET /v1/stats", bulk.data.stats[0], expected);
  checkStats("GET /v1/stats", bulk.data.stats[1], expectedStats(otherArticleId, []));
  step(`stats: ${expected.review_count} reviews, average ${expected.average}; bulk stats agree`);

  // 5. An invalid review: a typed problem+json naming both fields, and nothing stored.
  const invalid = await client.POST("/v1/articles/{article_id}/reviews", {
    params: { path: { article_id: articleId } },
    body: { rating: 9, body: "" },
  });
  check(invalid.data === undefined, `invalid review: accepted with ${invalid.response.status}`);
  const problem: Problem | undefined = invalid.error;
  check(problem !== undefined, `invalid review: status ${invalid.response.status} without a problem document`);
  check(invalid.response.status === 422, `invalid review: status ${invalid.response.status}, expected 422`);
  check(
    invalid.response.headers.get("Content-Type")?.startsWith("application/problem+json") === true,
    `invalid review: Content-Type ${show(invalid.response.headers.get("Content-Type"))}`,
  );
  check(problem.status === 422, `invalid review: problem status ${problem.status}`);
  check(problem.type === "urn:marginalia:problem:validation", `invalid review: problem type ${problem.type}`);
  const fields = (problem.errors ?? []).map((fieldError) => fieldError.field).sort();
  check(
    show(fields) === show(["body", "rating"]),
    `invalid review: errors name ${show(fields)}, expected body and rating`,
  );
  const after = await client.GET("/v1/articles/{article_id}/stats", { params: { path: { article_id: articleId } } });
  checkStats("GET stats after the invalid review", after.data, expected);
  step(`invalid review: 422 ${problem.type}, errors name ${fields.join(" and ")}`);

  console.log(
    `typescript client: ok (${created.length} reviews, ${pages} pages of 2, average ${expected.average}, ` +
      `422 names ${fields.join("+")})`,
  );
}

main().catch((failure: unknown) => {
  if (failure instanceof Mismatch) {
    console.error(`typescript client: FAILED: ${failure.message}`);
  } else {
    console.error("typescript client: FAILED with an error:", failure);
  }
  process.exit(1);
});
