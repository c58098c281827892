"""A Griffe extension (mkdocs.yml loads it for mkdocstrings): the package's docstrings are
written for ``help()`` and Sphinx-like readers; this makes them read well as Markdown.

- ``>>>`` examples become Python console code blocks (Markdown would quote them), without
  their ``# doctest:`` directives;
- Sphinx roles (``:func:`~attnwidget.x.load_model` ``) become code (``load_model``);
- the ``name: text`` entries under a section numpydoc does not know, such as "Traits
  (synced both ways ...)", become a list instead of one run-on paragraph.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj):`~?([^`]+)`")
_NUMPY_SECTIONS = {
    "parameters",
    "other parameters",
    "returns",
    "yields",
    "receives",
    "raises",
    "warns",
    "warnings",
    "see also",
    "notes",
    "references",
    "examples",
    "attributes",
    "methods",
    "deprecated",
}
_DOCTEST_DIRECTIVE = re.compile(r"\s*# doctest: [^#]*$")
_ENTRY = re.compile(r"^(\w[\w, ]*): (.*)$")


def _role(match: re.Match) -> str:
    target = match[1]
    shown = target.rsplit(".", 1)[-1] if match[0].split("`")[1].startswith("~") else target
    return f"``{shown}``"


def markdown(text: str) -> str:
    lines = _ROLE.sub(_role, text).split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(">>>"):
            out.append("```pycon")
            while i < len(lines) and lines[i].startswith((">>>", "...")):
                out.append(_DOCTEST_DIRECTIVE.sub("", lines[i]))
                i += 1
            out.append("```")
            continue
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", underline.strip()) and line.strip().lower() not in _NUMPY_SECTIONS:
            out += [line, underline, ""]  # numpydoc ends the section before it here
            i += 2
            while i < len(lines) and (entry := _ENTRY.match(lines[i])):
                item = [f"- `{entry[1]}`: {entry[2]}"]
                i += 1
                while i < len(lines) and lines[i].startswith("    "):
                    item.append("  " + lines[i].strip())
                    i += 1
                out.append("\n".join(item))
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
