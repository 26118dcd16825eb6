"""The reader-and-CMS flow of tests/clients/python/flow.py, through the Python client that
openapi-generator (the `python` generator: pydantic models, urllib3) writes from
openapi/openapi.json, against a live service. Run by tests/clients/run.sh:

    MARGINALIA_URL=http://127.0.0.1:8080 MARGINALIA_CMS_KEY=... python flow.py

MARGINALIA_ARTICLE_ID (default: the fixture's id with "-og") names the article it registers and
reviews, so that several flows can share one service. It needs a service that publishes the
fixture reviews at once (post-moderation) and takes them all from one address
(MARGINALIA_RATE_LIMIT_REVIEWS=0). Any mismatch exits 1 with a message naming it.
"""

from __future__ import annotations

import json
import os
import unicodedata
import uuid
from collections import Counter
from typing import Any, TypeVar

from flow_support import FIXTURES, check, check_stats_fields, env, expected_stats, run

from marginalia_ogen import ApiClient, Configuration
from marginalia_ogen.api.articles_api import ArticlesApi
from marginalia_ogen.api.reviews_api import ReviewsApi
from marginalia_ogen.api.stats_api import StatsApi
from marginalia_ogen.api_response import ApiResponse
from marginalia_ogen.exceptions import ApiException
from marginalia_ogen.models.article import Article
from marginalia_ogen.models.article_stats import ArticleStats
from marginalia_ogen.models.bulk_stats import BulkStats
from marginalia_ogen.models.create_review_request import CreateReviewRequest
from marginalia_ogen.models.created_review import CreatedReview
from marginalia_ogen.models.problem import Problem
from marginalia_ogen.models.put_article_request import PutArticleRequest
from marginalia_ogen.models.review_page import ReviewPage

T = TypeVar("T")

def step(message: str) -> None:
    print(f"openapi-generator: {message}", flush=True)


def expect(response: ApiResponse[Any], kind: type[T], statuses: tuple[int, ...], where: str) -> T:
    """The parsed answer, checked to be of the expected status and model."""
    data = response.data
    check(response.status_code in statuses, f"{where}: status {response.status_code}: {data}")
    check(isinstance(data, kind), f"{where}: expected a {kind.__name__}, got {data!r}")
    assert isinstance(data, kind)
    return data


def refused(error: ApiException, status: int, where: str) -> Problem:
    """The problem document of an error answer, checked to have the expected status."""
    check(error.status == status, f"{where}: status {error.status}, expected {status}: {error.body}")
    headers = {str(name).lower(): str(value) for name, value in (error.headers or {}).items()}
    content_type = headers.get("content-type", "")
    check(content_type.startswith("application/problem+json"), f"{where}: Content-Type {content_type!r}")
    problem = Problem.from_json(str(error.body))
    check(problem is not None, f"{where}: not a problem document: {error.body!r}")
    assert problem is not None
    check(problem.status == status, f"{where}: problem status {problem.status}")
    return problem


def check_stats(where: str, actual: ArticleStats, expected: dict[str, Any]) -> None:
    histogram = actual.histogram
    counts = [histogram.var_1, histogram.var_2, histogram.var_3, histogram.var_4, histogram.var_5]
    check_stats_fields(
        where, actual.article_id, (actual.review_count, actual.rated_count), actual.average, counts, expected
    )


def main() -> None:
    base_url = env("MARGINALIA_URL")
    cms_key = env("MARGINALIA_CMS_KEY")
    article = json.loads((FIXTURES / "article.json").read_text(encoding="utf-8"))
    reviews = json.loads((FIXTURES / "reviews-valid.json").read_text(encoding="utf-8"))
    article_id: str = os.environ.get("MARGINALIA_ARTICLE_ID") or f"{article['article_id']}-og"
    other_article_id = f"{article_id}-other"

    # One client for the public API, one that sends the CMS's key as a Bearer token.
    public = ApiClient(Configuration(host=base_url))
    cms = ApiClient(Configuration(host=base_url, access_token=cms_key))

    # 1. The CMS registers the fixture article (and a second one, for the bulk stats). The
    #    fixture's `body` is the article's text, which PUT does not take.
    fields = {key: value for key, value in article.items() if key not in ("article_id", "body")}
    for target, title in ((article_id, article["title"]), (other_article_id, f"{article['title']} (other)")):
        request = PutArticleRequest.from_dict({**fields, "title": title})
        assert request is not None
        answer = ArticlesApi(cms).put_article_with_http_info(target, request)
        registered = expect(answer, Article, (200, 201), f"PUT /v1/articles/{target}")
        check(registered.article_id == target, f"PUT /v1/articles/{target}: article_id {registered.article_id!r}")
        check(registered.title == title, f"PUT /v1/articles/{target}: title {registered.title!r}")
        check(registered.url == article["url"], f"PUT /v1/articles/{target}: url {registered.url!r}")
        check(registered.section == article["section"], f"PUT /v1/articles/{target}: section {registered.section!r}")
        check(registered.reviews_open, f"PUT /v1/articles/{target}: reviews are closed")
        check(registered.lifecycle == "published", f"PUT /v1/articles/{target}: lifecycle {registered.lifecycle!r}")
    step(f"registered {article_id} and {other_article_id} with the cms key")

    # Without the key the same call is a 401 problem document.
    try:
        ArticlesApi(public).put_article(article_id, PutArticleRequest(title="no key"))
        check(False, "PUT without a key was accepted")
    except ApiException as error:
        unauthorized = refused(error, 401, "PUT without a key")
    check(unauthorized.type.value == "urn:marginalia:problem:unauthorized", f"PUT without a key: {unauthorized}")
    step("PUT without a key: 401 problem+json")

    # 2. A Ukrainian review first, sent twice with one Idempotency-Key (a retry gets the same
    #    review and token back), then every other valid fixture review without a key (None: the
    #    header is optional, never null).
    reviews_api = ReviewsApi(public)

    def submit(fixture: dict[str, Any], key: str | None) -> CreatedReview:
        request = CreateReviewRequest.from_dict(fixture)
        assert request is not None
        response = reviews_api.create_review_with_http_info(article_id, request, idempotency_key=key)
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
        check("author_email" not in review.model_dump(), "POST reviews: the answer shows the author's email")
        # ApiResponse keeps the headers as a plain dict, named as sent (HTTP/1.1 names are
        # case-insensitive; actix sends them in lower case).
        headers = {name.lower(): value for name, value in (response.headers or {}).items()}
        location = headers.get("location")
        check(
            location is not None and location.endswith(f"/v1/reviews/{review.id}"),
            f"POST reviews: Location {location!r}",
        )
        return review

    ukrainian = next((review for review in reviews if review.get("language") == "uk"), None)
    check(ukrainian is not None, "reviews-valid.json has no Ukrainian review")
    assert ukrainian is not None
    key = str(uuid.uuid4())
    first = submit(ukrainian, key)
    retried = submit(ukrainian, key)
    check(
        retried.id == first.id and retried.edit_token == first.edit_token,
        f"POST reviews: the retry with the same Idempotency-Key stored {retried.id}, first {first.id}",
    )
    created = [first]
    step("submitted the Ukrainian review and retried it with the same Idempotency-Key: one review")
    created += [submit(review, None) for review in reviews if review is not ukrainian]
    step(f"submitted {len(created)} reviews")

    # 3. Page through the article's reviews two at a time, following next_cursor until it is null.
    seen: Counter[str] = Counter()
    cursor: str | None = None
    pages = 0
    previous_created_at = None
    while True:
        listed = reviews_api.list_reviews_with_http_info(article_id, limit=2, cursor=cursor)
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
    stats_api = StatsApi(public)
    expected = expected_stats(article_id, [review.rating for review in created])
    one = expect(stats_api.article_stats_with_http_info(article_id), ArticleStats, (200,), "GET stats")
    check_stats("GET /v1/articles/{article_id}/stats", one, expected)
    many = stats_api.bulk_stats_with_http_info([article_id, other_article_id])
    bulk = expect(many, BulkStats, (200,), "GET /v1/stats")
    check(len(bulk.stats) == 2, f"GET /v1/stats: {len(bulk.stats)} entries, expected 2")
    check_stats("GET /v1/stats", bulk.stats[0], expected)
    check_stats("GET /v1/stats", bulk.stats[1], expected_stats(other_article_id, []))
    step(f"stats: {expected['review_count']} reviews, average {expected['average']}; bulk stats agree")

    # 5. An invalid review: a problem document naming both fields, and nothing stored. The
    #    client's own validation would refuse rating 9 before sending, so the body goes as JSON.
    try:
        reviews_api.create_review(article_id, CreateReviewRequest.model_construct(rating=9, body=""))
        check(False, "the invalid review was accepted")
    except ApiException as error:
        problem = refused(error, 422, "invalid review")
    check(problem.type.value == "urn:marginalia:problem:validation", f"invalid review: problem type {problem.type}")
    fields_named = sorted(error.var_field for error in problem.errors or [])
    check(fields_named == ["body", "rating"], f"invalid review: errors name {fields_named}, expected body and rating")
    after = expect(stats_api.article_stats_with_http_info(article_id), ArticleStats, (200,), "GET stats")
    check_stats("GET stats after the invalid review", after, expected)
    step(f"invalid review: 422 {problem.type.value}, errors name {' and '.join(fields_named)}")

    print(
        f"openapi-generator client: ok ({len(created)} reviews, {pages} pages of 2, "
        f"average {expected['average']}, 422 names {'+'.join(fields_named)})",
        flush=True,
    )



if __name__ == "__main__":
    run("openapi-generator client", main)
