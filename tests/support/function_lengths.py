#!/usr/bin/env python3
"""Function lengths in src/: no handler over 30 lines, no function over 80.

A line that is only string text (inside a string literal: SQL, a template) is not counted; comments,
blank lines and attributes are not counted either. Handlers are the `pub async fn` of `src/api/`
that actix registers (every `async fn` there taking extractors); everything else is held to 80.
Prints every offender and the three longest functions; exits 1 on any offender.
"""
import re
import sys
from pathlib import Path

HANDLER_LIMIT = 30
FUNCTION_LIMIT = 80
FN_START = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code_lines(text):
    """Yield (line_no, counted, opens, closes) with braces outside strings, chars and comments."""
    in_block_comment = 0
    in_string = False
    raw_hashes = None
    for number, line in enumerate(text.split("\n"), 1):
        started_in_string = in_string or raw_hashes is not None
        has_code = False
        depth_change = []
        i = 0
        while i < len(line):
            c = line[i]
            if in_block_comment:
                if line.startswith("*/", i):
                    in_block_comment -= 1
                    i += 2
                    continue
                if line.startswith("/*", i):
                    in_block_comment += 1
                    i += 2
                    continue
                i += 1
                continue
            if raw_hashes is not None:
                end = '"' + "#" * raw_hashes
                if line.startswith(end, i):
                    raw_hashes = None
                    i += len(end)
                    has_code = True
                    continue
                i += 1
                continue
            if in_string:
                if c == "\\":
                    i += 2
                    continue
                if c == '"':
                    in_string = False
                    has_code = True
                i += 1
                continue
            if line.startswith("//", i):
                break
            if line.startswith("/*", i):
                in_block_comment += 1
                i += 2
                continue
            m = re.match(r'b?r(#*)"', line[i:])
            if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
                raw_hashes = len(m.group(1))
                i += m.end()
                continue
            if c == '"':
                in_string = True
                i += 1
                continue
            if c == "'":
                m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'", line[i:])
                if m:
                    i += m.end()
                    has_code = True
                    continue
            if c in "{}":
                depth_change.append(c)
            if not c.isspace():
                has_code = True
            i += 1
        stripped = line.strip()
        string_only = started_in_string and (in_string or raw_hashes is not None or not has_code or
                                             stripped.endswith(('"', '",', '"#', '"#,', '";', '"#;')))
        attribute = stripped.startswith("#[") or stripped.startswith("#![")
        counted = has_code and not attribute and not (started_in_string and string_only)
        yield number, counted, depth_change


def functions(path):
    text = path.read_text()
    lines = text.split("\n")
    scanned = list(code_lines(text))
    result = []
    for index, (number, _, _) in enumerate(scanned):
        m = FN_START.match(lines[number - 1])
        if not m:
            continue
        name = m.group(6)
        depth = 0
        opened = False
        count = 0
        for later_number, counted, braces in scanned[index:]:
            if counted:
                count += 1
            for brace in braces:
                if brace == "{":
                    depth += 1
                    opened = True
                else:
                    depth -= 1
            if opened and depth == 0:
                break
            if not opened and lines[later_number - 1].rstrip().endswith(";"):
                count = 0
                break
        if opened:
            is_handler = "/api/" in str(path) and m.group(4) is not None and not name.startswith("_")
            result.append((count, f"{path}:{number}", name, is_handler))
    return result


def main():
    roots = [Path(p) for p in sys.argv[1:]] or [Path("src")]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.rs")):
            found.extend(functions(path))
    offenders = []
    for count, where, name, is_handler in found:
        limit = HANDLER_LIMIT if is_handler else FUNCTION_LIMIT
        if count > limit:
            kind = "handler" if is_handler else "function"
            offenders.append(f"{where}: {kind} `{name}` has {count} lines (limit {limit})")
    for line in offenders:
        print(line)
    print("longest:")
    for count, where, name, _ in sorted(found, reverse=True)[:3]:
        print(f"  {count:3} {name} ({where})")
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
