#!/bin/sh
# Validates a META.json against the PGXN meta spec 1.0.0's required keys
# and their forms (jq), and against the control file it is made from.
# Prints what is wrong and exits 1, or prints "META.json: valid".
set -eu
meta=${1:-META.json}
cd "$(dirname "$0")/.."
version=$(sed -n "s/^default_version = '\(.*\)'\$/\1/p" order_mgmt.control)
jq -e --arg version "$version" -r '
def semver: type == "string" and test("^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+)?$");
def licenses: ["agpl_3","apache_1_1","apache_2_0","artistic_1","artistic_2","bsd","freebsd",
	"gfdl_1_2","gfdl_1_3","gpl_1","gpl_2","gpl_3","lgpl_2_1","lgpl_3_0","mit","mozilla_1_0",
	"mozilla_1_1","openssl","perl_5","postgresql","qpl_1_0","ssleay","sun","zlib",
	"open_source","restricted","unrestricted","unknown"];
[
	(if (.name | type == "string" and test("^[^/\\\\ \\t\\n]{2,}$")) then empty else "name: missing or not a distribution name" end),
	(if (.abstract | type == "string" and length > 0) then empty else "abstract: missing" end),
	(if (.version | semver) then empty else "version: missing or not semver" end),
	(if .version == $version then empty else "version: \(.version) is not the control file'"'"'s \($version)" end),
	(if (.maintainer | (type == "string" and length > 0) or (type == "array" and length > 0 and all(.[]; type == "string")))
	 then empty else "maintainer: missing" end),
	(if (.license | (type == "string" and IN(licenses[])) or (type == "array" and all(.[]; IN(licenses[]))) or type == "object")
	 then empty else "license: missing or not a PGXN license string" end),
	(if (.provides | type == "object" and length > 0) then empty else "provides: missing" end),
	(.provides // {} | to_entries[] |
		(if (.value.file | type == "string") then empty else "provides.\(.key).file: missing" end),
		(if (.value.version | semver) then empty else "provides.\(.key).version: missing or not semver" end)),
	(if (."meta-spec".version == "1.0.0") then empty else "meta-spec.version: not 1.0.0" end),
	(if (.release_status // "stable" | IN("stable", "testing", "unstable")) then empty else "release_status: not stable, testing or unstable" end),
	(.prereqs // {} | .. | objects | to_entries[] | select(.key == "PostgreSQL") |
		if (.value | semver) then empty else "prereqs: PostgreSQL \(.value) is not semver" end)
] | if length == 0 then "META.json: valid" else (.[] | "META.json: \(.)"), ("" | halt_error(1)) end
' "$meta"
# every file provides names is in the distribution
for f in $(jq -r '.provides[] | .file, (.docfile // empty)' "$meta"); do
	[ -f "$f" ] || { echo "META.json: provides names $f, which does not exist"; exit 1; }
done
