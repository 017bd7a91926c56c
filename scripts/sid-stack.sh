#!/usr/bin/env bash
# The second Python stack: Debian sid's pure-Python Alembic / SQLAlchemy 2.0 / psycopg 3 /
# Flask-Migrate, unpacked beside bookworm's /usr/bin/python3 (which keeps its own C-extension
# packages: psycopg2, asyncpg, greenlet, markupsafe). Packages come through a private apt
# configuration (own lists and cache) naming suite sid on the mirror the machine's apt sources
# already use; nothing of the machine's apt state changes.
#
#   scripts/sid-stack.sh [DIR]   unpacks into DIR (default: $ALEMBIC_GATE_SID_DIR, else
#                                ~/.cache/alembic-gate/sid-stack) and prints the PYTHONPATH entry.
set -euo pipefail
dir=${1:-${ALEMBIC_GATE_SID_DIR:-$HOME/.cache/alembic-gate/sid-stack}}
packages=(python3-alembic python3-sqlalchemy python3-typing-extensions python3-mako python3-psycopg
  python3-flask python3-flask-migrate python3-flask-sqlalchemy python3-werkzeug python3-jinja2
  python3-itsdangerous python3-click python3-blinker)
site="$dir/root/usr/lib/python3/dist-packages"
stamp="$dir/packages.txt"
# The stamp names the packages and that they were byte-compiled: without .pyc files (pip writes
# them, dpkg -x does not, and PYTHONDONTWRITEBYTECODE stops Python from caching them) every worker
# start compiles SQLAlchemy 2.0 from source again, about 0.7 s.
want="${packages[*]} compiled"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$site/alembic" ]; then
  echo "$site"
  exit 0
fi

# The mirror: the first deb source of the machine whose suites are Debian's main archive.
mirror=$(
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -E '^\s*URIs:' | awk '{print $2}'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -E '^\s*deb\s' | awk '{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'
  } 2>/dev/null | grep -v -- '-security' | head -n 1 || true
)
[ -n "$mirror" ] || { echo "sid-stack: no Debian mirror found in the machine's apt sources" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt="$dir/apt"
rm -rf "$apt" "$dir/debs" "$dir/root"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/etc/preferences.d" "$dir/debs" "$dir/root"
cat > "$apt/etc/sources.list" <<SRC
deb [signed-by=$keyring] $mirror sid main
SRC
touch "$apt/etc/status"
opts=(-o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=-"
  -o "Dir::Etc::Preferences=$apt/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::State::status=$apt/etc/status"
  -o "APT::Architecture=$(dpkg --print-architecture)" -o "Debug::NoLocking=1" -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" -qq update
(cd "$dir/debs" && apt-get "${opts[@]}" -qq download "${packages[@]}")
for deb in "$dir"/debs/*.deb; do
  # C extensions built for sid's Python do not load on bookworm's 3.11: pure Python only.
  if [ "$(dpkg-deb -f "$deb" Architecture)" = "all" ]; then dpkg -x "$deb" "$dir/root"; fi
done
/usr/bin/python3 -m compileall -q -j 0 "$site" >/dev/null 2>&1 || true
echo "$want" > "$stamp"
echo "$site"
