#!/usr/bin/env python3
"""Compares the markdown tables of two results documents row by row.

Usage: scripts/compare-tables.py REFERENCE.md NEW.md [--section TITLE]

Rows are matched by table heading (the nearest '#' title above the table) and by their label cells
(the leading cells before the first one with a decimal point: bits, group, method). Prints one summary line per table (rows identical to the
printed digits / rows that differ / rows only in one file) and every differing row with both values,
so a reproduction claim can be checked, not asserted. Exit status 0 in every case: differences are
data, explained in the text around the table.
"""
import re
import sys

MEASURED = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?%?$")  # a measured value: has a decimal point


def tables(path, section=None):
    """{(title, label): [cells]} in document order, from every table under `section` (or all)."""
    out = {}
    title, in_section = "", section is None
    header = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                title = line.lstrip("#").strip()
                if section is not None and line.startswith("## "):
                    in_section = title.startswith(section)
                header = None
                continue
            if not in_section or not line.startswith("|"):
                header = None if not line.startswith("|") else header
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = cells
                continue
            if all(set(c) <= set("-: ") for c in cells):
                continue
            n_label = 0
            while n_label < len(cells) and not MEASURED.match(cells[n_label]):
                n_label += 1
            label = " | ".join(cells[: max(n_label, 1)])
            out[(title, label)] = cells
    return out


def main():
    args = sys.argv[1:]
    section = None
    if "--section" in args:
        i = args.index("--section")
        section = args[i + 1]
        del args[i : i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    ref, new = tables(args[0], section), tables(args[1], section)
    titles = []
    for key in list(ref) + list(new):
        if key[0] not in titles:
            titles.append(key[0])
    print("| table | rows identical | rows differing | only in reference | only in new |")
    print("|---|---|---|---|---|")
    diffs = []
    for t in titles:
        keys_r = [k for k in ref if k[0] == t]
        keys_n = [k for k in new if k[0] == t]
        same = [k for k in keys_r if k in new and new[k] == ref[k]]
        differ = [k for k in keys_r if k in new and new[k] != ref[k]]
        only_r = [k for k in keys_r if k not in new]
        only_n = [k for k in keys_n if k not in ref]
        print(f"| {t} | {len(same)} | {len(differ)} | {len(only_r)} | {len(only_n)} |")
        for k in differ:
            changed = [f"{a} -> {b}" for a, b in zip(ref[k], new[k]) if a != b]
            diffs.append(f"- {t}: `{k[1]}`: " + ", ".join(changed))
    if diffs:
        print()
        print("\n".join(diffs))


if __name__ == "__main__":
    main()
