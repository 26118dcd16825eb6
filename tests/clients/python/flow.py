"""A reader-and-CMS flow through the Python client generated from openapi/openapi.json
(openapi-python-client), against a live service. Run by tests/clients/run.sh:

    MARGINALIA_URL=http://127.0.0.1:8080 MARGINALIA_CMS_KEY=... python flow.py

MARGINALIA_ARTICLE_ID (default: the fixture's id with "-py") names the article it registers and
reviews, so that several flows can share one service. It needs a service that publishes the
fixture reviews at once (post-moderation, the default) and takes them all from one address
(MARGINALIA_RATE_LIMIT_REVIEWS=0). Any mismatch exits 1 with a message naming it.
"""

from __future__ import annotations

import inspect
import json
import os
import unicodedata
import uuid
from collections import Counter
from typing import Any, TypeVar

from flow_support import FIXTURES, check, check_stats_fields, env, expected_stats, run

from marginalia_client import AuthenticatedClient, Client
from marginalia_client.api.articles import put_article
from marginalia_client.api.reviews import create_review, list_reviews
from marginalia_client.api.stats import article_stats, bulk_stats
from marginalia_client.models import (
    Article,
    ArticleStats,
    BulkStats,
    CreatedReview,
    CreateReviewRequest,
    Problem,
    PutArticleRequest,
    ReviewPage,
)
from marginalia_client.types import UNSET, Response, Unset

T = TypeVar("T")

def step(message: str) -> None:
    print(f"python: {message}", flush=True)


def expect(response: Response[Any], kind: type[T], statuses: tuple[int, ...], where: str) -> T:
    """The parsed answer, checked to be of the expected status and model."""
    parsed = response.parsed
    check(response.status_code in statuses, f"{where}: status {response.status_code}: {parsed}")
    check(isinstance(parsed, kind), f"{where}: expected a {kind.__name__}, got {parsed!r}")
    assert isinstance(parsed, kind)
    return parsed


def check_stats(where: str, actual: ArticleStats, expected: dict[str, Any]) -> None:
    histogram = actual.histogram
    counts = [histogram.field_1, histogram.field_2, histogram.field_3, histogram.field_4, histogram.field_5]
    check_stats_fields(
        where, actual.article_id, (actual.review_count, actual.rated_count), actual.average, counts, expected
    )


def main() -> None:
    base_url = env("MARGINALIA_URL")
    cms_key = env("MARGINALIA_CMS_KEY")
    article = json.loads((FIXTURES / "article.json").read_text(encoding="utf-8"))
    reviews = json.loads((FIXTURES / "reviews-valid.json").read_text(encoding="utf-8"))
    article_id: str = os.environ.get("MARGINALIA_ARTICLE_ID") or f"{article['article_id']}-py"
    other_article_id = f"{article_id}-other"

    # One client for the public API, one that sends the CMS's key as a Bearer token.
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    cms = AuthenticatedClient(base_url=base_url, token=cms_key, raise_on_unexpected_status=True)

    # 1. The CMS registers the fixture article (and a second one, for the bulk stats). The
    #    fixture's `body` is the article's text, which PUT does not take.
    fields = {key: value for key, value in article.items() if key not in ("article_id", "body")}
    for target, title in ((article_id, article["title"]), (other_article_id, f"{article['title']} (other)")):
        request = PutArticleRequest.from_dict({**fields, "title": title})
        answer = put_article.sync_detailed(target, client=cms, body=request)
        registered = expect(answer, Article, (200, 201), f"PUT /v1/articles/{target}")
        check(registered.article_id == target, f"PUT /v1/articles/{target}: article_id {registered.article_id!r}")
        check(registered.title == title, f"PUT /v1/articles/{target}: title {registered.title!r}")
        check(registered.url == article["url"], f"PUT /v1/articles/{target}: url {registered.url!r}")
        check(registered.section == article["section"], f"PUT /v1/articles/{target}: section {registered.section!r}")
        check(registered.reviews_open, f"PUT /v1/articles/{target}: reviews are closed")
        check(registered.lifecycle == "published", f"PUT /v1/articles/{target}: lifecycle {registered.lifecycle!r}")
        check(
            registered.published_at == request.published_at,
            f"PUT /v1/articles/{target}: published_at {registered.published_at!r}",
        )
    step(f"registered {article_id} and {other_article_id} with the cms key")

    # Without the key the same call is a typed 401 problem. (The generated signature takes only an
    # AuthenticatedClient for this operation, so mypy refuses the plain one unless told.)
    anonymous = put_article.sync_detailed(
        article_id,
        client=client,  # type: ignore[arg-type]
        body=PutArticleRequest(title="no key"),
    )
    unauthorized = expect(anonymous, Problem, (401,), "PUT without a key")
    check(unauthorized.type_ == "urn:marginalia:problem:unauthorized", f"PUT without a key: {unauthorized}")

    # 2. A Ukrainian review first, then every other valid fixture review.
    # The Idempotency-Key header is optional, never null: published as nullable, the generated
    # signature took None, which httpx then refuses as a header value (a crash, not an answer).
    key_type = inspect.signature(create_review.sync_detailed).parameters["idempotency_key"].annotation
    check("None" not in str(key_type), f"create_review takes idempotency_key: {key_type}")

    def submit(fixture: dict[str, Any], key: str | Unset = UNSET) -> CreatedReview:
        response = create_review.sync_detailed(
            article_id, client=client, body=CreateReviewRequest.from_dict(fixture), idempotency_key=key
        )
        review = expect(response, CreatedReview, (201,), "POST reviews")
        check(review.status == "published", f"POST reviews: status {review.status!r} for {fixture['body']!r}")
        check(bool(review.edit_token), "POST reviews: no edit_token")
        check(review.article_id == article_id, f"POST reviews: article_id {review.article_id!r}")
        check(review.rating == fixture["rating"], f"POST reviews: rating {review.rating}, sent {fixture['rating']}")
        check(review.body == unicodedata.normalize("NFC", fixture["body"]), f"POST reviews: body {review.body!r}")
        check(review.title == fixture.get("title"), f"POST reviews: title {review.title!r}")
        check(review.author_name == fixture.get("author_name"), f"POST reviews: author_name {review.author_name!r}")
        if fixture.get("language"):
            check(review.language == fixture["language"], f"POST reviews: language {review.language!r}")
        check("author_email" not in review.additional_properties, "POST reviews: the answer shows the author's email")
        location = response.headers.get("Location")
        check(
            location is not None and location.endswith(f"/v1/reviews/{review.id}"),
            f"POST reviews: Location {location!r}",
        )
        return review

    ukrainian = next((review for review in reviews if review.get("language") == "uk"), None)
    check(ukrainian is not None, "reviews-valid.json has no Ukrainian review")
    assert ukrainian is not None
    key = str(uuid.uuid4())
    created = [submit(ukrainian, key)]
    step(f"submitted the Ukrainian review: 201, status {created[0].status}, edit_token present")
    retried = submit(ukrainian, key)
    check(
        retried.id == created[0].id and retried.edit_token == created[0].edit_token,
        f"POST reviews: the retry with the same Idempotency-Key stored {retried.id}, first {created[0].id}",
    )
    step("retried it with the same Idempotency-Key: the same review and token, nothing stored twice")
    created += [submit(review) for review in reviews if review is not ukrainian]
    step(f"submitted {len(created)} reviews")

    # 3. Page through the article's reviews two at a time, following next_cursor until it is null.
    seen: Counter[str] = Counter()
    cursor: str | Unset = UNSET
    pages = 0
    previous_created_at = None
    while True:
        listed = list_reviews.sync_detailed(article_id, client=client, limit=2, cursor=cursor)
        page = expect(listed, ReviewPage, (200,), f"GET reviews page {pages + 1}")
        pages += 1
        check(pages <= len(created) + 1, f"GET reviews: more than {len(created) + 1} pages")
        check(len(page.items) <= 2, f"GET reviews page {pages}: {len(page.items)} items with limit=2")
        for item in page.items:
            seen[str(item.id)] += 1
            check(
                previous_created_at is None or item.created_at <= previous_created_at,
                f"GET reviews page {pages}: not newest first at {item.id}",
            )
            previous_created_at = item.created_at
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    for review in created:
        check(seen[str(review.id)] == 1, f"GET reviews: review {review.id} seen {seen[str(review.id)]} times")
    check(len(seen) == len(created), f"GET reviews: {len(seen)} distinct reviews, expected {len(created)}")
    step(f"paged with limit=2 through {pages} pages: each of the {len(created)} reviews exactly once")

    # 4. Stats of the article, then bulk stats of both articles (in request order).
    expected = expected_stats(article_id, [review.rating for review in created])
    one = expect(article_stats.sync_detailed(article_id, client=client), ArticleStats, (200,), "GET stats")
    check_stats("GET /v1/articles/{article_id}/stats", one, expected)
    many = bulk_stats.sync_detailed(client=client, article_id=[article_id, other_article_id])
    bulk = expect(many, BulkStats, (200,), "GET /v1/stats")
    check(len(bulk.stats) == 2, f"GET /v1/stats: {len(bulk.stats)} entries, expected 2")
    check_stats("GET /v1/stats", bulk.stats[0], expected)
    check_stats("GET /v1/stats", bulk.stats[1], expected_stats(other_article_id, []))
    step(f"stats: {expected['review_count']} reviews, average {expected['average']}; bulk stats agree")

    # 5. An invalid review: a typed problem+json naming both fields, and nothing stored.
    invalid = create_review.sync_detailed(article_id, client=client, body=CreateReviewRequest(rating=9, body=""))
    problem = expect(invalid, Problem, (422,), "invalid review")
    check(
        invalid.headers.get("Content-Type", "").startswith("application/problem+json"),
        f"invalid review: Content-Type {invalid.headers.get('Content-Type')!r}",
    )
    check(problem.status == 422, f"invalid review: problem status {problem.status}")
    check(problem.type_ == "urn:marginalia:problem:validation", f"invalid review: problem type {problem.type_}")
    fields_named = sorted(error.field for error in (problem.errors if not isinstance(problem.errors, Unset) else []))
    check(fields_named == ["body", "rating"], f"invalid review: errors name {fields_named}, expected body and rating")
    after = expect(article_stats.sync_detailed(article_id, client=client), ArticleStats, (200,), "GET stats")
    check_stats("GET stats after the invalid review", after, expected)
    step(f"invalid review: 422 {problem.type_}, errors name {' and '.join(fields_named)}")

    print(
        f"python client: ok ({len(created)} reviews, {pages} pages of 2, average {expected['average']}, "
        f"422 names {'+'.join(fields_named)})",
        flush=True,
    )



if __name__ == "__main__":
    run("python client", main)
