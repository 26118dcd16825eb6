#!/usr/bin/env python3
"""WordPress with the Marginalia plugin, end to end, on this machine only: MariaDB on a private
socket, Debian's WordPress under `php -S` on loopback, installed through its own installer over
HTTP, the plugin activated and configured through wp-admin, posts written through the REST API
with an application password, and Marginalia itself beside it. Each step is an assertion.

    python3 tests/wordpress/drive.py --binary target/debug/marginalia

Run by tests/wordpress/run.sh, which installs the Debian packages first.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import html
import http.cookiejar
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PLUGIN = ROOT / "integrations" / "wordpress" / "marginalia"
WORDPRESS = Path("/usr/share/wordpress")
ADMIN_PASSWORD = "marginalia-" + secrets.token_hex(8)
# Requests to loopback never go through a proxy the machine may set for package registries.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"


def browser(command: str, options: dict) -> dict:
    """One step of tests/browser/wordpress.mjs in Debian's Chromium; its JSON answer."""
    done = subprocess.run(["node", str(ROOT / "tests" / "browser" / "wordpress.mjs"), command,
                           json.dumps(options)], capture_output=True, text=True, timeout=120)
    check(done.returncode == 0, f"Chromium, {command}:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def step(what: str) -> None:
    print(f"wordpress: {what}", flush=True)


def fail(message: str) -> None:
    raise SystemExit(f"wordpress: FAILED: {message}")


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(what: str, probe, seconds: float = 60.0, every: float = 0.2):
    """Polls `probe` until it returns something truthy; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            fail(f"{what}: not within {seconds:.0f} s")
        time.sleep(every)


def whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Http:
    """A client with its own cookies; answers are (status, headers, text) and never raise."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), urllib.request.ProxyHandler({}))

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, form: dict | None = None):
        headers = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = path if path.startswith("http") else self.base + path
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return 0, {}, str(error)

    def json(self, method: str, path: str, value=None, headers: dict[str, str] | None = None):
        headers = dict(headers or {})
        body = None
        if value is not None:
            body = json.dumps(value).encode()
            headers["Content-Type"] = "application/json"
        status, _, text = self.request(method, path, body, headers)
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text


class Processes:
    """Everything the run started, stopped at its end whatever happens."""

    def __init__(self):
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], log: Path, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                   start_new_session=True, **kwargs)
        self.running[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def start_mariadb(work: Path, processes: Processes) -> Path:
    data, socket_path = work / "mysql", work / "mysql.sock"
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                    "--auth-root-authentication-method=socket", "--skip-test-db", *user],
                   check=True, capture_output=True)
    mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    processes.start("mariadb", [mariadbd, "--no-defaults", f"--datadir={data}",
                                f"--socket={socket_path}", "--skip-networking",
                                f"--pid-file={work / 'mysql.pid'}", *user], work / "mariadb.log")

    def answers() -> bool:
        return subprocess.run(["mariadb", "--no-defaults", f"--socket={socket_path}", "-u", "root",
                               "-e", "SELECT 1"], capture_output=True).returncode == 0
    until("MariaDB accepts connections", answers)
    sql(socket_path, "CREATE DATABASE wordpress CHARACTER SET utf8mb4; "
                     "CREATE USER 'wordpress'@'localhost' IDENTIFIED BY 'wordpress'; "
                     "GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';")
    return socket_path


def sql(socket_path: Path, statement: str) -> str:
    done = subprocess.run(["mariadb", "--no-defaults", f"--socket={socket_path}", "-u", "root",
                           "-N", "-B", "-e", statement], capture_output=True, text=True)
    check(done.returncode == 0, f"{statement}: {done.stderr}")
    return done.stdout.strip()


def post_meta(socket_path: Path, post_id: int, key: str) -> str:
    return sql(socket_path, f"SELECT meta_value FROM wordpress.wp_postmeta "
                            f"WHERE post_id = {post_id} AND meta_key = '{key}'")


def prepare_docroot(work: Path, url: str, socket_path: Path) -> Path:
    """A copy of Debian's WordPress with a wp-config.php of the test's own (Debian's reads
    /etc/wordpress), its themes, the plugin and the loopback guard."""
    docroot = work / "wp"
    shutil.copytree(WORDPRESS, docroot, symlinks=False,
                    ignore=shutil.ignore_patterns("wp-config.php", "wp-content"))
    content = docroot / "wp-content"
    (content / "plugins").mkdir(parents=True)
    (content / "mu-plugins").mkdir()
    (content / "uploads").mkdir()
    shutil.copytree(WORDPRESS / "wp-content" / "themes", content / "themes")
    shutil.copytree(PLUGIN, content / "plugins" / "marginalia")
    for must_use in ("loopback-guard.php", "closed-network.php"):
        shutil.copy(HERE / must_use, content / "mu-plugins" / must_use)
    config = (HERE / "wp-config.php.in").read_text()
    for name, value in {"@SOCKET@": str(socket_path), "@DOCROOT@": str(docroot), "@URL@": url,
                        "@WORK@": str(work), "@SALT@": secrets.token_hex(16)}.items():
        config = config.replace(name, value)
    (docroot / "wp-config.php").write_text(config)
    return docroot


def install_wordpress(wp: Http) -> None:
    status, _, text = wp.request("GET", "/wp-admin/install.php")
    check(status == 200 and "install" in text.lower(), f"the installer answers: {status}")
    status, _, text = wp.request("POST", "/wp-admin/install.php?step=2", form={
        "weblog_title": "Marginalia newsroom", "user_name": "editor",
        "admin_password": ADMIN_PASSWORD, "admin_password2": ADMIN_PASSWORD, "pw_weak": "1",
        "admin_email": "editor@example.org", "blog_public": "0", "language": ""})
    check(status == 200 and "Success" in text, f"WordPress installed itself: {status} {text[:500]}")


def log_in(wp: Http, user: str = "editor", password: str = ADMIN_PASSWORD) -> None:
    wp.request("GET", "/wp-login.php")
    status, _, text = wp.request("POST", "/wp-login.php", form={
        "log": user, "pwd": password, "wp-submit": "Log In", "testcookie": "1",
        "redirect_to": wp.base + "/wp-admin/"})
    check(status == 200 and "Dashboard" in text, f"{user} logged in: {status}")


def activate_plugin(wp: Http) -> None:
    status, _, text = wp.request("GET", "/wp-admin/plugins.php")
    check(status == 200, f"the plugins page: {status}")
    link = re.search(r'href="(plugins\.php\?action=activate&amp;plugin=marginalia%2Fmarginalia\.php[^"]*)"', text)
    check(link is not None, "the plugins page offers to activate Marginalia")
    status, _, text = wp.request("GET", "/wp-admin/" + html.unescape(link.group(1)))
    check(status == 200 and "Plugin activated" in text, f"the plugin activated: {status}")


def configure_plugin(wp: Http, settings: dict, refused: str | None = None) -> str:
    """Settings → Marginalia saved with `settings` (a list is a set of checkboxes, a dict a
    field per key); with `refused`, the page must say that instead of "Settings saved"."""
    status, _, page = wp.request("GET", "/wp-admin/options-general.php?page=marginalia")
    check(status == 200 and "Marginalia reviews" in page, f"the settings page: {status}")
    nonce = re.search(r'name="_wpnonce" value="([^"]+)"', page)
    check(nonce is not None, "the settings form carries a nonce")
    form = {"option_page": "marginalia", "action": "update", "_wpnonce": nonce.group(1),
            "_wp_http_referer": "/wp-admin/options-general.php?page=marginalia"}
    for name, value in settings.items():
        if isinstance(value, dict):
            form.update({f"marginalia_settings[{name}][{key}]": item for key, item in value.items()})
        else:
            form[f"marginalia_settings[{name}]" + ("[]" if isinstance(value, list) else "")] = value
    status, _, page = wp.request("POST", "/wp-admin/options.php", form=form)
    if refused is None:
        check(status == 200 and "Settings saved" in page, f"the settings saved: {status}")
    else:
        check(status == 200 and refused in html.unescape(page), f"the settings page refuses: {refused}")
    for name in ("cms_secret", "webhook_secrets", "api_key", "reader_secret"):
        check(not settings.get(name) or settings[name] not in page, f"{name} is never shown back")
    return page


def application_password(wp: Http) -> str:
    status, _, page = wp.request("GET", "/wp-admin/profile.php")
    nonce = re.search(r'wpApiSettings = \{[^}]*"nonce":"([0-9a-f]+)"', page)
    check(status == 200 and nonce is not None, "the profile page carries a REST nonce")
    status, created = wp.json("POST", "/?rest_route=/wp/v2/users/me/application-passwords",
                              {"name": "marginalia-test"}, {"X-WP-Nonce": nonce.group(1)})
    check(status == 201 and isinstance(created, dict), f"an application password: {status} {created}")
    token = base64.b64encode(f"editor:{created['password']}".encode()).decode()
    return "Basic " + token


class Marginalia:
    def __init__(self, binary: Path, work: Path, processes: Processes, cms_secret: str,
                 wordpress: str):
        self.binary, self.processes = binary, processes
        self.port, self.metrics_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = work / "marginalia.log"
        (work / "marginalia").mkdir()
        os.chmod(work, 0o755)
        self.env = dict(os.environ, MARGINALIA_DATA_DIR=str(work / "marginalia"),
                        MARGINALIA_BIND=f"127.0.0.1:{self.port}",
                        MARGINALIA_METRICS_BIND=f"127.0.0.1:{self.metrics_port}",
                        MARGINALIA_WEBHOOK_LOOPBACK_ONLY="true",
                        MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
                        MARGINALIA_WEBHOOK_STATS_WINDOW="500ms",
                        MARGINALIA_CMS_WEBHOOK_SECRETS=cms_secret,
                        MARGINALIA_CORS_ORIGINS=wordpress,
                        MARGINALIA_RATE_LIMIT_REVIEWS="0", RUST_LOG="warn")
        self.env.pop("DATABASE_URL", None)
        self.http = Http(self.base)

    def start(self) -> None:
        self.processes.start("marginalia", [str(self.binary), "serve"], self.log, env=self.env)
        until("Marginalia is ready", lambda: self.http.request("GET", "/readyz")[0] == 200, 120)

    def stop(self) -> None:
        self.processes.stop("marginalia")

    def key(self, scope: str) -> str:
        done = subprocess.run([str(self.binary), "keys", "create", "--name", f"wordpress-{scope}",
                               "--scope", scope], env=self.env, capture_output=True, text=True)
        check(done.returncode == 0, f"a {scope} key: {done.stderr}")
        return done.stdout.strip()

    def article(self, article_id: str):
        return self.http.json("GET", f"/v1/articles/{article_id}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, required=True, help="the marginalia binary")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--screenshots", type=Path,
                        help="write the wp-admin and post screenshots there (default: the work directory)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="marginalia-wordpress-"))
    processes = Processes()
    try:
        run(args.binary.resolve(), work, processes, args.screenshots)
    except SystemExit:
        diagnose(work)
        raise
    finally:
        processes.stop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("wordpress: every step passed", flush=True)
    return 0


def placed_by_editor(wp: Http, rest: Http, auth: dict, settings: dict) -> None:
    """With "below the content" off, a post shows the widget where its block or shortcode is,
    once, with its own article id; a post with neither shows none; none has WordPress's comment
    form (comments are off for covered posts)."""
    configure_plugin(wp, settings)
    reader = Http(wp.base)
    for label, placed in [("block", "<!-- wp:marginalia/reviews /-->"),
                          ("shortcode", "[marginalia_reviews]"), ("neither", "")]:
        status, post = rest.json("POST", "/?rest_route=/wp/v2/posts", {
            "title": f"Placed with the {label}", "status": "publish",
            "content": f"<!-- wp:paragraph --><p>An article.</p><!-- /wp:paragraph -->{placed}"}, auth)
        check(status == 201, f"a post with the {label}: {status}")
        status, _, page = reader.request("GET", post["link"])
        widgets = re.findall(r'<script src="[^"]*/widget\.js" data-site="default" '
                             r'data-article-id="wp-([0-9]+)"', page)
        expected = [] if label == "neither" else [str(post["id"])]
        check(status == 200 and widgets == expected, f"the {label}'s page shows {widgets}")
        check("wp-comments-post.php" not in page, f"the {label}'s page has no comment form")


def untrash_from_wp_admin(wp: Http, post_id: int) -> None:
    """Posts → Trash → Restore, as an editor clicks it."""
    status, _, page = wp.request("GET", "/wp-admin/edit.php?post_status=trash&post_type=post")
    link = re.search(rf'href="([^"]*/wp-admin/post\.php\?post={post_id}&amp;action=untrash&amp;_wpnonce=[0-9a-f]+)"', page)
    check(status == 200 and link is not None, f"the trash offers to restore the post: {status}")
    status, _, page = wp.request("GET", html.unescape(link.group(1)))
    check(status == 200 and "restored from the Trash" in page, f"the post is restored: {status}")


def resync_from_wp_admin(wp: Http) -> int:
    """Settings → Marginalia → Resync all posts; how many posts the page says were sent."""
    status, _, page = wp.request("GET", "/wp-admin/options-general.php?page=marginalia")
    form = re.search(r'<form[^>]*admin-post\.php.*?</form>', page, re.S)
    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', form.group(0)) if form else None
    check(status == 200 and nonce is not None, "the settings page has the resync button")
    status, _, page = wp.request("POST", "/wp-admin/admin-post.php",
                                 form={"action": "marginalia_resync", "_wpnonce": nonce.group(1)})
    resynced = re.search(r"Resync: ([0-9]+) posts? queued", page)
    check(status == 200 and resynced is not None, f"the resync answered: {status} {page[:300]}")
    return int(resynced.group(1))


def diagnose(work: Path) -> None:
    """What a failed run leaves to read: the plugin's outbox and the ends of the logs."""
    socket_path = work / "mysql.sock"
    if socket_path.exists():
        done = subprocess.run(["mariadb", "--no-defaults", f"--socket={socket_path}", "-u", "root",
                               "-e", "SELECT id, message_id, kind, path, attempts, failed, last_error "
                                     "FROM wordpress.wp_marginalia_outbox"],
                              capture_output=True, text=True)
        print(f"wordpress: the plugin's outbox:\n{done.stdout}{done.stderr}", file=sys.stderr)
    for log in ("wp/wp-content/outside-requests.log", "debug.log", "php.log", "marginalia.log",
                "mariadb.log"):
        if (work / log).exists():
            tail = (work / log).read_text(errors="replace").splitlines()[-15:]
            print(f"wordpress: {log}, last lines:\n" + "\n".join(tail), file=sys.stderr)


def run(binary: Path, work: Path, processes: Processes, screenshots: Path | None) -> None:
    step("MariaDB on a private socket")
    socket_path = start_mariadb(work, processes)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    docroot = prepare_docroot(work, url, socket_path)
    step(f"WordPress under php -S at {url}")
    processes.start("php", ["php", "-S", f"127.0.0.1:{port}", "-t", str(docroot)], work / "php.log",
                    env=dict(os.environ, PHP_CLI_SERVER_WORKERS="4"))
    wp = Http(url)
    until("php -S answers", lambda: wp.request("GET", "/wp-admin/install.php")[0] == 200)
    step("WordPress's own installer, over HTTP")
    install_wordpress(wp)
    log_in(wp)
    step("the plugin activated in wp-admin")
    activate_plugin(wp)

    cms_secret = whsec()
    marginalia = Marginalia(binary, work, processes, cms_secret, url)
    marginalia.start()
    admin = marginalia.key("admin")
    status, endpoint = marginalia.http.json(
        "POST", "/v1/webhook-endpoints",
        {"url": f"{url}/?rest_route=/marginalia/v1/events",
         "event_types": ["article.stats_changed", "review.replied"]},
        {"Authorization": f"Bearer {admin}"})
    check(status == 201, f"Marginalia registered WordPress's endpoint: {status} {endpoint}")
    step("the plugin configured in Settings → Marginalia")
    # What the newsroom keeps across the form's later saves; secrets left empty keep theirs.
    settings = {"service_url": marginalia.base, "site": "default", "post_types": ["post"],
                "moderation": "", "language": "en", "auto_embed": "1", "disable_comments": "1"}
    configure_plugin(wp, {**settings, "cms_secret": cms_secret,
                          "webhook_secrets": endpoint["secret"], "api_key": ""})
    # The REST API as an integration calls it: an application password, no session cookie (a
    # logged-in cookie without a nonce would make WordPress treat the call as anonymous).
    auth = {"Authorization": application_password(wp)}
    rest = Http(url)

    step("publishing a post registers its article")
    status, post = rest.json("POST", "/?rest_route=/wp/v2/posts",
                           {"title": "Pushed to the Brink Again", "content": "An article.",
                            "status": "publish"}, auth)
    check(status == 201, f"the post is published: {status} {post}")
    article_id = f"wp-{post['id']}"
    status, article = marginalia.article(article_id)
    check(status == 200 and article["title"] == "Pushed to the Brink Again",
          f"Marginalia has the article: {status} {article}")

    step("editing the title updates it")
    status, _ = rest.json("POST", f"/?rest_route=/wp/v2/posts/{post['id']}",
                        {"title": "Pushed to the Brink Once More"}, auth)
    check(status == 200, f"the post is edited: {status}")
    status, article = marginalia.article(article_id)
    check(status == 200 and article["title"] == "Pushed to the Brink Once More",
          f"Marginalia has the new title: {article}")

    step("a review sent through the widget on the post's page arrives in the post's meta")
    sent = browser("review", {"post_url": post["link"], "rating": 4,
                              "body": "A sober analysis of the attacks, with sources."})
    check(f"/v1/articles/{article_id}/reviews" in sent["url"],
          f"the widget sent it for the plugin's article id: {sent['url']}")
    status, review = marginalia.http.json("GET", f"/v1/reviews/{sent['id']}")
    check(status == 200 and review["status"] == "published" and review["rating"] == 4,
          f"Marginalia holds the widget's review: {status} {review}")
    until("the post's rating count is 1",
          lambda: post_meta(socket_path, post["id"], "_marginalia_review_count") == "1", 30)
    check(post_meta(socket_path, post["id"], "_marginalia_rating_average") == "4",
          "the post's average is 4")

    step("a forged or replayed message changes nothing")
    hostile_messages(wp, endpoint["secret"], post["id"], socket_path)

    step("after Marginalia rotates the endpoint's secret, WordPress with the new one still follows")
    status, rotated = marginalia.http.json(
        "POST", f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", None,
        {"Authorization": f"Bearer {admin}"})
    check(status == 200 and rotated["secret"] != endpoint["secret"], f"rotated: {status} {rotated}")
    configure_plugin(wp, {**settings, "webhook_secrets": rotated["secret"]})
    status, second = marginalia.http.json("POST", f"/v1/articles/{article_id}/reviews",
                                          {"rating": 2, "body": "Too many guesses, too few facts."})
    check(status == 201, f"a second review: {status} {second}")
    until("the post's rating count is 2",
          lambda: post_meta(socket_path, post["id"], "_marginalia_review_count") == "2", 30)
    check(post_meta(socket_path, post["id"], "_marginalia_rating_average") == "3",
          "the post's average is 3")

    step("wp-admin's pages and the post, in Chromium")
    browser("screenshots", {"base": url, "user": "editor", "password": ADMIN_PASSWORD,
                            "post_url": post["link"], "rating_text": "3.0 (2 reviews)",
                            "dir": str(screenshots or work)})

    step("trashing the post deletes its article")
    status, _ = rest.json("DELETE", f"/?rest_route=/wp/v2/posts/{post['id']}", None, auth)
    check(status == 200, f"the post is trashed: {status}")
    status, _ = marginalia.article(article_id)
    check(status == 404, f"Marginalia's article is gone: {status}")

    step("restoring it from the trash (a draft) unpublishes it; publishing it again publishes it")
    untrash_from_wp_admin(wp, post["id"])
    lifecycle = lambda: marginalia.article(article_id)[1].get("lifecycle")  # noqa: E731
    check(lifecycle() == "unpublished", f"Marginalia's article is unpublished: {lifecycle()}")
    status, _ = rest.json("POST", f"/?rest_route=/wp/v2/posts/{post['id']}", {"status": "publish"}, auth)
    check(status == 200 and lifecycle() == "published", f"published again: {status} {lifecycle()}")

    step("deleting it for good deletes its article")
    status, _ = rest.json("DELETE", f"/?rest_route=/wp/v2/posts/{post['id']}&force=true", None, auth)
    check(status == 200, f"the post is deleted: {status}")
    check(marginalia.article(article_id)[0] == 404, "Marginalia's article is gone")

    step("the block and the shortcode place the widget; without the option, nothing else does")
    without_auto_embed = {name: value for name, value in settings.items() if name != "auto_embed"}
    placed_by_editor(wp, rest, auth, without_auto_embed)

    step("Resync all posts sends the posts published before the plugin was active")
    check(marginalia.article("wp-1")[0] == 404, "WordPress's first post predates the plugin")
    resynced = resync_from_wp_admin(wp)
    status, published = rest.json("GET", "/?rest_route=/wp/v2/posts&per_page=100&status=publish", None, auth)
    check(status == 200 and resynced == len(published) >= 4,
          f"every published post resynced: {resynced} of {len(published)}")
    status, first = marginalia.article("wp-1")
    check(status == 200 and first["title"] == "Hello world!" and first["lifecycle"] == "published",
          f"Marginalia has WordPress's first post: {status} {first}")

    reader_sign_in(wp, rest, auth, marginalia, admin, settings)

    step("a post published while Marginalia is down is delivered once it is back")
    marginalia.stop()
    status, later = rest.json("POST", "/?rest_route=/wp/v2/posts",
                            {"title": "Published during an outage", "content": "Later.",
                             "status": "publish"}, auth)
    check(status == 201, f"the post is published during the outage: {status}")
    waiting = sql(socket_path, "SELECT COUNT(*) FROM wordpress.wp_marginalia_outbox WHERE failed = 0")
    check(waiting == "1", f"one event waits in the plugin's outbox: {waiting}")
    status, _, page = wp.request("GET", "/wp-admin/options-general.php?page=marginalia")
    check(status == 200 and "1 message waiting for Marginalia." in page,
          "the settings page says one message waits")
    marginalia.start()
    # WP-Cron's next run (what the next page view or a system cron triggers), until delivered.
    sql(socket_path, "UPDATE wordpress.wp_marginalia_outbox SET next_at = 0")
    until("the queued event is delivered", lambda: (
        wp.request("GET", "/wp-cron.php?doing_wp_cron")[0] == 200
        and marginalia.article(f"wp-{later['id']}")[0] == 200), 60, 1)
    check(sql(socket_path, "SELECT COUNT(*) FROM wordpress.wp_marginalia_outbox") == "0",
          "the outbox is empty")

    outside = docroot / "wp-content" / "outside-requests.log"
    check(not outside.exists(), "WordPress tried to reach outside this machine:\n"
          + (outside.read_text() if outside.exists() else ""))


def reader_sign_in(wp: Http, rest: Http, auth: dict, marginalia: Marginalia, admin: str,
                   settings: dict) -> None:
    """Readers the newsroom knows: the plugin signs reader tokens for logged-in users with the
    secret the Marginalia site checks them with; their reviews are verified, under their display
    name, with the badges of their roles. The token route answers this site's own pages only."""
    step("reader sign-in off: the embed names no token route, and there is none")
    status, post = rest.json("POST", "/?rest_route=/wp/v2/posts",
                             {"title": "Readers the newsroom knows", "status": "publish",
                              "content": "<!-- wp:marginalia/reviews /-->"}, auth)
    check(status == 201, f"a post for the readers: {status} {post}")
    article_id = f"wp-{post['id']}"
    visitor = Http(wp.base)
    route = "/wp-json/marginalia/v1/reader-token"
    check("data-reader-token-url" not in embed_attributes(visitor, post["link"]),
          "without a reader-token secret the embed has no data-reader-token-url")
    check(visitor.request("GET", route)[0] == 404, "without a reader-token secret there is no route")

    step("Settings → Marginalia refuses a short secret and a badge that is not a slug")
    configure_plugin(wp, {**settings, "reader_secret": "s" * 31}, refused="32 to 512 bytes")
    configure_plugin(wp, {**settings, "reader_badges": {"author": "Star Writer"}},
                     refused="The badge of the role author must be a lowercase slug")
    check(visitor.request("GET", route)[0] == 404, "a refused secret turned nothing on")

    step("the same secret in the plugin and in the Marginalia site's reader_tokens")
    secret = secrets.token_urlsafe(48)
    badges = {"subscriber": "subscriber", "editor": "staff", "administrator": "staff"}
    configure_plugin(wp, {**settings, "reader_secret": secret, "reader_badges": badges})
    status, site = marginalia.http.json("PUT", "/v1/sites/default",
                                        {"reader_tokens": {"secrets": [secret]}},
                                        {"Authorization": f"Bearer {admin}"})
    check(status in (200, 201) and site["reader_tokens"]["secrets"] == 1,
          f"Marginalia's default site takes reader tokens: {status} {site}")

    step("the embed names the token route and the sign-in page, the same for every visitor")
    attributes = embed_attributes(visitor, post["link"])
    token_url = attributes.get("data-reader-token-url")
    check(token_url == wp.base + route, f"data-reader-token-url: {attributes}")
    sign_in = urllib.parse.urlsplit(attributes.get("data-sign-in-url", ""))
    check(sign_in.path == "/wp-login.php"
          and urllib.parse.parse_qs(sign_in.query).get("redirect_to") == [post["link"] + "#marginalia-reviews"],
          f"data-sign-in-url logs in and comes back to the reviews: {attributes}")

    step("nobody logged in: 204, kept by no cache")
    status, headers, text = visitor.request("GET", token_url)
    check(status == 204 and text == "" and "no-store" in headers.get("Cache-Control", ""),
          f"a logged-out visitor gets no token: {status} {headers} {text}")

    readers = {}
    for login, role, name in [("olena", "subscriber", "Олена Коваль"),
                              ("columnist", "author", "Sam Columnist")]:
        password = "marginalia-" + secrets.token_hex(8)
        status, user = rest.json("POST", "/?rest_route=/wp/v2/users",
                                 {"username": login, "password": password, "name": name,
                                  "email": f"{login}@example.org", "roles": [role]}, auth)
        check(status == 201, f"the {role} {login}: {status} {user}")
        client = Http(wp.base)
        log_in(client, login, password)
        readers[login] = (client, user["id"], name, password)

    step("a logged-in subscriber's own page gets a token: wp-<ID>, display name, mapped badge")
    olena, olena_id, olena_name, olena_password = readers["olena"]
    # What a browser sends with the widget's fetch from the post's page (same origin, a GET: no
    # Origin header).
    own_page = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Referer": post["link"]}
    token = fetch_token(olena, token_url, own_page)
    claims = token_claims(token, secret)
    now = time.time()
    check(set(claims) == {"sub", "aud", "exp", "name", "badges"}
          and claims["sub"] == f"wp-{olena_id}" and claims["aud"] == "marginalia:default"
          and claims["name"] == olena_name and claims["badges"] == ["subscriber"]
          and 590 <= claims["exp"] - now <= 601, f"the subscriber's claims: {claims}")
    check(fetch_token(olena, token_url) and fetch_token(olena, token_url, {"Sec-Fetch-Site": "none"}),
          "a request without Fetch Metadata, or the URL opened by hand, gets a token too")

    step("another origin's page gets no token, whatever it tries")
    elsewhere = f"http://127.0.0.1:{free_port()}"
    for label, headers, path in [
        ("a fetch from another site", {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site",
                                       "Referer": "https://attacker.example/"}, token_url),
        ("a fetch from another port of this host", {"Origin": elsewhere, "Sec-Fetch-Site": "same-site"}, token_url),
        ("a fetch after a cross-origin redirect", {"Origin": "null"}, token_url),
        ("another site's <script> (Fetch Metadata only)", {"Sec-Fetch-Site": "cross-site"}, token_url),
        ("another site's <script> (Referer only)", {"Referer": elsewhere + "/page"}, token_url),
        ("another site's <script>, no referrer, as JSONP", {}, token_url + "?_jsonp=steal"),
    ]:
        status, answer_headers, text = olena.request("GET", path, headers=headers)
        check(status == 403 and '"token"' not in text and "eyJ" not in text
              and "no-store" in answer_headers.get("Cache-Control", ""),
              f"{label} is refused: {status} {text[:200]}")

    step("the token makes a verified review, under the display name, with the badge")
    review = review_as(marginalia, article_id, token, "Written by a subscriber, signed in.")
    check(review["verified"] is True and review["badges"] == ["subscriber"]
          and review["author_name"] == olena_name, f"the public read of the review: {review}")

    step("a role without a badge: a verified review without badges; an administrator's is staff")
    columnist, columnist_id, columnist_name, _ = readers["columnist"]
    claims = token_claims(fetch_token(columnist, token_url, own_page), secret)
    check(claims["sub"] == f"wp-{columnist_id}" and claims["badges"] == [],
          f"the author's claims: {claims}")
    review = review_as(marginalia, article_id, fetch_token(columnist, token_url, own_page),
                       "Written by a columnist, signed in.")
    check(review["verified"] is True and review["badges"] == []
          and review["author_name"] == columnist_name, f"the author's review: {review}")
    claims = token_claims(fetch_token(wp, token_url, own_page), secret)
    check(claims["sub"] == "wp-1" and claims["badges"] == ["staff"], f"the administrator's claims: {claims}")

    step("in Chromium: the subscriber logs in, the widget signs them in, the review is verified")
    with another_origin() as attacker:
        signed_in = browser("reader", {"base": wp.base, "user": "olena", "password": olena_password,
                                       "post_url": post["link"], "name": olena_name, "rating": 5,
                                       "body": "Sent through the widget, signed in.",
                                       "token_url": token_url, "elsewhere": attacker})
    status, review = marginalia.http.json("GET", f"/v1/reviews/{signed_in['id']}")
    check(status == 200 and review["verified"] is True and review["badges"] == ["subscriber"]
          and review["author_name"] == olena_name, f"the widget's review: {status} {review}")
    # The browser sends WordPress's cookies along (another port is the same site), as it would
    # for a page of another subdomain: only the route's origin check stands in the way.
    seen = signed_in["elsewhere"]
    check(seen["loggedInCookieSent"] and seen["status"] == 403
          and "eyJ" not in seen["text"] and "eyJ" not in seen["read"]["text"],
          f"another origin's page in Chromium, with the user's cookie, gets no token: {seen}")

    step("logging out ends the tokens, even for a copy of the old cookie")
    kept = Http(wp.base)
    for cookie in olena.cookies:
        kept.cookies.set_cookie(cookie)
    status, _, page = olena.request("GET", "/wp-admin/profile.php")
    log_out = re.search(r'href="([^"]*wp-login\.php\?action=logout&_wpnonce=[0-9a-f]+)"', html.unescape(page))
    check(status == 200 and log_out is not None, "the profile page offers to log out")
    status, _, _ = olena.request("GET", log_out.group(1))
    check(status == 200, f"logged out: {status}")
    check(kept.request("GET", token_url, headers=own_page)[0] == 204,
          "the cookie of a closed session gets no token")

    step("forgetting the secret turns reader sign-in off again")
    configure_plugin(wp, {**settings, "reader_secret_forget": "1"})
    check("data-reader-token-url" not in embed_attributes(visitor, post["link"]),
          "the embed names no token route once the secret is forgotten")
    check(columnist.request("GET", token_url, headers=own_page)[0] == 404, "the route is gone")


@contextlib.contextmanager
def another_origin():
    """The URL of a page served on another port of 127.0.0.1, as an attacker's page on another
    subdomain would be: another origin, but the same site, to which the browser sends WordPress's
    cookies along."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b"<!doctype html><title>elsewhere</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass  # quiet: drive.py prints its own steps

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/page"
    finally:
        server.shutdown()
        server.server_close()


def embed_attributes(client: Http, link: str) -> dict[str, str]:
    """The data- attributes of the widget's script on a post's page."""
    status, _, page = client.request("GET", link)
    script = re.search(r'<script src="[^"]*/widget\.js"[^>]*>', page)
    check(status == 200 and script is not None, f"the post's page embeds the widget: {status}")
    return {name: html.unescape(value)
            for name, value in re.findall(r'(data-[a-z-]+)="([^"]*)"', script.group(0))}


def fetch_token(client: Http, url: str, headers: dict[str, str] | None = None) -> str:
    status, answer_headers, text = client.request("GET", url, headers=headers)
    check(status == 200 and "no-store" in answer_headers.get("Cache-Control", ""),
          f"a token: {status} {answer_headers} {text[:300]}")
    return json.loads(text)["token"]


def token_claims(token: str, secret: str) -> dict:
    """A reader token's claims, once its HS256 signature by `secret` is checked."""
    def decoded(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    header, payload, signature = token.split(".")
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    check(hmac.compare_digest(mac, decoded(signature)), f"the token is signed with the secret: {token}")
    check(json.loads(decoded(header)) == {"alg": "HS256", "typ": "JWT"}, f"an HS256 JWT: {token}")
    return json.loads(decoded(payload))


def review_as(marginalia: Marginalia, article_id: str, token: str, body: str) -> dict:
    """A review sent with a reader token, as the public read shows it."""
    status, created = marginalia.http.json("POST", f"/v1/articles/{article_id}/reviews",
                                           {"rating": 5, "body": body, "author_name": "typed name"},
                                           {"Marginalia-Reader": token})
    check(status == 201, f"a review with the reader token: {status} {created}")
    status, review = marginalia.http.json("GET", f"/v1/reviews/{created['id']}")
    check(status == 200, f"the public read: {status} {review}")
    return review


def hostile_messages(wp: Http, secret: str, post_id: int, socket_path: Path) -> None:
    """Messages to the plugin's route that must change nothing: signed with another secret,
    unsigned, an hour old, and the replay of a message already taken (which WordPress answers
    without applying it again, as a sender retrying a lost answer expects)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    now = int(time.time())

    def stats(count: int, average: float, at: int) -> bytes:
        return json.dumps({"type": "article.stats_changed", "site_id": "default",
                           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                           "data": {"article_id": f"wp-{post_id}", "review_count": count,
                                    "average": average}}).encode()

    def signed(message_id: str, timestamp: int, with_key: bytes, body: bytes) -> dict[str, str]:
        mac = hmac.new(with_key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
        return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
                "Content-Type": "application/json"}

    def meta() -> tuple[str, str]:
        return (post_meta(socket_path, post_id, "_marginalia_review_count"),
                post_meta(socket_path, post_id, "_marginalia_rating_average"))

    route = "/?rest_route=/marginalia/v1/events"
    before = meta()
    forged = stats(99, 1.0, now + 1)
    for label, body, headers in [
        ("signed with another secret", forged, signed("msg_forged", now, secrets.token_bytes(32), forged)),
        ("signed over other bytes", forged, signed("msg_swapped", now, key, stats(1, 4.0, now))),
        ("an hour old", forged, signed("msg_old", now - 3600, key, forged)),
        ("unsigned", forged, {"Content-Type": "application/json", "webhook-id": "msg_bare",
                              "webhook-timestamp": str(now)}),
    ]:
        status, _, _ = wp.request("POST", route, body, headers)
        check(status == 401, f"a message {label} is refused: {status}")
        check(meta() == before, f"a message {label} changed no post meta")

    # Two genuine messages, then the first again: the replay must not bring its counts back.
    first, second = stats(7, 2.0, now), stats(1, 4.0, now)
    first_headers = signed("msg_first", now, key, first)
    for body, headers, expected in [(first, first_headers, ("7", "2")),
                                    (second, signed("msg_second", now, key, second), before)]:
        status, _, _ = wp.request("POST", route, body, headers)
        check(status == 200 and meta() == expected, f"a genuine message applies: {status} {meta()}")
    status, _, text = wp.request("POST", route, first, first_headers)
    check(status == 200 and "already_processed" in text, f"a replay is recognised: {status} {text}")
    check(meta() == before, f"a replayed message changed no post meta: {meta()}")

if __name__ == "__main__":
    sys.exit(main())
