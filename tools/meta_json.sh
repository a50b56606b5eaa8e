#!/bin/sh
# Writes PGXN's META.json (https://pgxn.org/spec/) to stdout from the
# sources of truth, so it never goes stale: name, version and abstract from
# order_mgmt.control, the oldest PostgreSQL from debian/pgversions, the
# release status from CHANGELOG.md (the version's entry says "unreleased").
# "make META.json" runs it; tools/check_meta.sh validates the result.
set -eu
cd "$(dirname "$0")/.."
ext=order_mgmt
control=$ext.control
field() { sed -n "s/^$1 = '\(.*\)'\$/\1/p" "$control"; }
version=$(field default_version)
abstract=$(field comment)
pg_min=$(sed -n 's/^\([0-9][0-9]*\)+\{0,1\}$/\1/p' debian/pgversions | sort -n | head -1)
if grep -q "^## $version (unreleased)" CHANGELOG.md; then status=unstable; else status=stable; fi
jq -n --arg name "$ext" --arg version "$version" --arg abstract "$abstract" \
	--arg pg "$pg_min.0.0" --arg status "$status" '{
	name: $name,
	abstract: $abstract,
	description: "A PostgreSQL extension in C that keeps online shops'"'"' orders consistent inside the database: order, payment and delivery status machines, stock holds that never oversell, promo codes with limits, payment deadlines (background worker or pg_cron), customer self-cancel, returns and exchanges, an event outbox and reports.",
	version: $version,
	maintainer: ["Seed 59038b45 maintainers <maintainers@users.noreply.h-seed-59038b45.example>"],
	license: "unknown",
	provides: {($name): {
		abstract: $abstract,
		file: ($name + ".control"),
		docfile: "docs/reference.md",
		version: $version
	}},
	prereqs: {runtime: {requires: {PostgreSQL: $pg}}},
	release_status: $status,
	no_index: {directory: ["test", "examples", "debian", "tools", ".ci"]},
	tags: ["orders", "e-commerce", "inventory", "payments", "state machine"],
	"meta-spec": {version: "1.0.0", url: "https://pgxn.org/meta/spec.txt"}
}'
