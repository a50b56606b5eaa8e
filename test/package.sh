#!/usr/bin/env bash
# Packaging (docs/packaging.md), as root: builds the Debian package with
# dpkg-buildpackage (pg_buildext), installs it with dpkg, runs the
# regression tests against the installed package (make installcheck), and
# removes it again; checks META.json and "make dist".  Prints one
# "ok N - ..." / "not ok N - ..." line per check and
# "package: P passed, F failed".
#
# The package installs into the same directories as "make install", which
# other test runs on this machine use too: the install, the tests and the
# removal happen under /tmp/om_install.lock, and the files that were there
# before are put back afterwards, so the directory ends as it began.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pgmajor=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$top/order_mgmt.control")
package=postgresql-$pgmajor-order-mgmt
work=$(mktemp -d /tmp/order_mgmt-package.XXXXXX)
chmod 755 "$work"			# the tests run as postgres
trap 'rm -rf "$work"' EXIT

n=0 passed=0 failed=0
check() {			# description command...
	local what=$1; shift
	n=$((n + 1))
	if "$@" >"$work/check.$n.log" 2>&1; then
		echo "ok $n - $what"; passed=$((passed + 1))
	else
		echo "not ok $n - $what"; failed=$((failed + 1))
		tail -30 "$work/check.$n.log" | sed 's/^/# /'
	fi
}

# the build, in a copy: dpkg-buildpackage writes its .deb next to the tree
build() {
	local src="$work/order-mgmt-$version"
	mkdir "$src"
	tar -C "$top" --exclude=.git -cf - . | tar -C "$src" -xf -
	make -C "$src" -s clean >/dev/null 2>&1
	(cd "$src" && dpkg-buildpackage -us -uc -b) || return 1
	local deb
	deb=$(ls "$work"/${package}_"$version"-*_*.deb) || return 1
	echo "$deb" >"$work/deb"
	dpkg-deb -c "$deb" >"$work/deb.list" || return 1
	grep -q "extension/order_mgmt--$version.sql\$" "$work/deb.list" &&
	grep -q "/order_mgmt.so\$" "$work/deb.list"
}
check "dpkg-buildpackage builds $package $version" build

# install, installcheck, remove: under the lock, the shared files put back
installcheck() {
	local deb
	deb=$(cat "$work/deb") || return 1
	local tests="$work/tests"
	mkdir "$tests"
	tar -C "$top" --exclude=.git -cf - . | tar -C "$tests" -xf -
	make -C "$tests" -s clean >/dev/null 2>&1
	chown -R postgres: "$tests"
	# the install dir may be shared with other work on this machine: take
	# its lock, unless the caller already holds it (OM_INSTALL_LOCK_HELD=1)
	local lock=(flock -o /tmp/om_install.lock)
	[ "${OM_INSTALL_LOCK_HELD:-}" = 1 ] && lock=()
	"${lock[@]}" bash -c '
		set -u
		deb=$1 package=$2 tests=$3 work=$4
		lib=$("$PG_CONFIG" --pkglibdir) ext=$("$PG_CONFIG" --sharedir)/extension
		(cd / && ls -d "${lib#/}"/order_mgmt.so "${lib#/}"/bitcode/order_mgmt* "${ext#/}"/order_mgmt* 2>/dev/null) >"$work/backup.list"
		tar -C / -cf "$work/backup.tar" -T "$work/backup.list" || exit 1
		restore() {
			dpkg -P "$package" >/dev/null
			rm -rf "$lib"/bitcode/order_mgmt "$lib"/bitcode/order_mgmt.index.bc
			tar -C / -xf "$work/backup.tar"
		}
		trap restore EXIT
		dpkg -i "$deb" || exit 1
		dpkg -S "$ext/order_mgmt.control" | grep -q "^$package:" || exit 1
		runuser -u postgres -- pg_virtualenv -o max_prepared_transactions=10 \
			make -C "$tests" installcheck ISOLATION= TAP_TESTS= PG_CONFIG="$PG_CONFIG"
	' installcheck "$deb" "$package" "$tests" "$work"
}
check "make installcheck passes against the installed package" installcheck
check "the package is removed again" bash -c "! dpkg-query -W -f='\${Status}' $package 2>/dev/null | grep -q 'install ok installed'"

# PGXN: META.json is what the sources say, and valid; make dist zips it
check "META.json is made from the control file and is valid" bash -c "
	sh '$top/tools/meta_json.sh' | diff -u '$top/META.json' - && sh '$top/tools/check_meta.sh'"
dist() {
	[ -d "$top/.git" ] || [ -f "$top/.git" ] || { echo "not a git checkout: skipped"; return 0; }
	make -C "$top" -s dist DISTDIR="$work" || return 1
	python3 -m zipfile -l "$work/order_mgmt-$version.zip" | awk '{print " " $1}' >"$work/zip.list" || return 1
	for f in META.json order_mgmt.control Makefile "order_mgmt--0.1.0.sql" src/order_mgmt.c; do
		grep -q " order_mgmt-$version/$f\$" "$work/zip.list" || { echo "$f not in the zip"; return 1; }
	done
}
check "make dist writes order_mgmt-$version.zip" dist

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
