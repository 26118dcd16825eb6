#!/usr/bin/env bash
# The WordPress plugin (integrations/wordpress/marginalia) against real WordPress: Debian's
# wordpress, PHP and MariaDB, installed here when missing, driven by drive.py (see its steps) and
# by Chromium (tests/browser/wordpress.mjs). Everything runs on loopback; WordPress is refused and
# the run fails on any request it makes off the machine.
#
#   bash tests/wordpress/run.sh                     # needs a built target/debug/marginalia
#   WRITE_SCREENSHOT=1 bash tests/wordpress/run.sh  # also refreshes docs/wordpress-*.png
set -euo pipefail
cd "$(dirname "$0")/../.."

binary=${CARGO_TARGET_DIR:-target}/debug/marginalia
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$binary" ] || { echo "wordpress: $binary is missing: cargo build --bin marginalia" >&2; exit 1; }
[ -x "$CHROMIUM" ] || { echo "wordpress: $CHROMIUM is missing: apt-get install chromium" >&2; exit 1; }

missing=()
[ -d /usr/share/wordpress/wp-includes ] || missing+=(wordpress)
compgen -G '/usr/share/wordpress/wp-content/themes/*/style.css' >/dev/null || missing+=(wordpress-theme-twentytwentythree)
command -v php >/dev/null 2>&1 || missing+=(php-cli)
php -m 2>/dev/null | grep -qx mysqli || missing+=(php-mysql)
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "wordpress: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's wordpress depends on a web server (apache2), which is installed but never started:
  # php -S serves WordPress here.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Pinned playwright-core, exactly as tests/browser/package-lock.json says.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

screenshots=()
[ -n "${WRITE_SCREENSHOT:-}" ] && screenshots=(--screenshots "$PWD/docs")
python3 tests/wordpress/drive.py --binary "$binary" "${screenshots[@]}"
