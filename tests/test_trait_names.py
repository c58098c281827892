"""The views' list of synced traits (js/src/data/traits.json, which the TypeScript reads)
matches the Python widgets: the same public and private synced traits, with the same
types, defaults and string choices. The choices are read from each trait's Enum or, for
a plain Unicode trait, from what its validator says when it refuses a value, so a choice
added on either side without the other fails here."""

from __future__ import annotations

import ast
import itertools
import json
import re

import anywidget
import pytest
import traitlets

from attnwidget import AttentionWidget, HeadExplorer
from attnwidget.corpus.analysis import analyze
from testdata import HARD_CASES, REPO, softmax_attention

SPEC = json.loads((REPO / "js" / "src" / "data" / "traits.json").read_text(encoding="utf-8"))
NOT_A_CHOICE = "\u0000not a choice\u0000"


@pytest.fixture(scope="module")
def widgets(bert_small):
    attention = AttentionWidget.from_attention(["The", " cat", " sat", "."], softmax_attention(2, 3, 4, causal=True))
    stats = analyze(HARD_CASES, model=bert_small, max_sentences=2, progress=False)
    return {"AttentionWidget": attention, "HeadExplorer": HeadExplorer(stats)}


def synced(cls) -> dict[str, traitlets.TraitType]:
    """The widget's own synced traits (anywidget's and ipywidgets' left out)."""
    base = set(anywidget.AnyWidget.class_traits(sync=True))
    return {name: trait for name, trait in cls.class_traits(sync=True).items() if name not in base}


def type_name(trait: traitlets.TraitType) -> str:
    if isinstance(trait, traitlets.Enum):
        return "str" if all(isinstance(v, str) for v in trait.values) else "enum"
    if isinstance(trait, traitlets.List):
        inner = getattr(trait, "_trait", None)
        return f"list[{type_name(inner)}]" if inner is not None else "list"
    names = {
        traitlets.Unicode: "str",
        traitlets.Bool: "bool",
        traitlets.Int: "int",
        traitlets.Float: "float",
        traitlets.Dict: "dict",
    }
    for kind, name in names.items():
        if isinstance(trait, kind):
            return name
    raise AssertionError(f"no JSON type for {type(trait).__name__}")


def python_choices(widget, name: str) -> list[str] | None:
    """The values a string trait accepts when they are a fixed list: its Enum's values, or
    the list its validator gives when it refuses a value ("must be one of 'a', 'b'; got")."""
    trait = widget.traits()[name]
    if isinstance(trait, traitlets.Enum):
        return list(trait.values)
    if not isinstance(trait, traitlets.Unicode):
        return None
    before = getattr(widget, name)
    try:
        setattr(widget, name, NOT_A_CHOICE)
    except traitlets.TraitError as err:
        found = re.search(r"must be one of (.+?); got", str(err))
        if found is None:
            return None  # refused for another reason (a key of the current metric)
        listed = found.group(1)
        try:
            return list(ast.literal_eval(f"({listed},)"))  # 'a', 'b'
        except (ValueError, SyntaxError):
            return listed.split(", ")  # a, b
    setattr(widget, name, before)
    return None  # any string goes


@pytest.mark.parametrize("widget_name", ["AttentionWidget", "HeadExplorer"])
def test_the_views_know_exactly_the_synced_traits(widget_name):
    cls = {"AttentionWidget": AttentionWidget, "HeadExplorer": HeadExplorer}[widget_name]
    traits = synced(cls)
    spec = SPEC[widget_name]
    assert sorted(spec["traits"]) == sorted(n for n in traits if not n.startswith("_"))
    assert sorted(spec["data"]) == sorted(n for n in traits if n.startswith("_"))


@pytest.mark.parametrize("widget_name", ["AttentionWidget", "HeadExplorer"])
def test_types_defaults_and_none_match(widget_name):
    cls = {"AttentionWidget": AttentionWidget, "HeadExplorer": HeadExplorer}[widget_name]
    traits = synced(cls)
    for name, spec in SPEC[widget_name]["traits"].items():
        trait = traits[name]
        assert spec["type"] == type_name(trait), name
        assert spec["default"] == trait.default(), name
        assert spec.get("nullable", False) == trait.allow_none, name


@pytest.mark.parametrize("widget_name", ["AttentionWidget", "HeadExplorer"])
def test_string_choices_match_the_validators(widgets, widget_name):
    widget = widgets[widget_name]
    checked = 0
    for name, spec in SPEC[widget_name]["traits"].items():
        found = python_choices(widget, name)
        if "choices" in spec:
            assert found == spec["choices"], (
                f"{widget_name}.{name}: Python accepts {found}, the views offer {spec['choices']}"
            )
            checked += 1
        elif spec.get("choices_from") == "_stats" and name.startswith("metric"):
            # The views offer the metrics the statistics carry: exactly those Python accepts.
            offered = [m["name"] for m in widget._stats["sources"][0]["metrics"]]
            assert sorted(found) == sorted(offered), name
            checked += 1
        else:
            assert found is None, f"{widget_name}.{name} has fixed choices {found}: list them in traits.json"
    assert checked >= 2


def test_a_key_is_any_key_the_statistics_give_for_its_metric(widgets):
    explorer = widgets["HeadExplorer"]
    metric = next(m for m in explorer._stats["sources"][0]["metrics"] if m["name"] == explorer.metric)
    for key in metric["keys"]:
        explorer.key = key
        assert explorer.key == key
    with pytest.raises(traitlets.TraitError, match="is not a key of"):
        explorer.key = NOT_A_CHOICE


def test_every_choice_listed_in_the_json_is_accepted_somewhere(widgets):
    """Fixed choices the views offer are values Python takes (on an input that has them)."""
    w = widgets["AttentionWidget"]
    for name in ("view", "token_role", "theme"):
        for value in SPEC["AttentionWidget"]["traits"][name]["choices"]:
            setattr(w, name, value)
            assert getattr(w, name) == value
    w.view = "head"


@pytest.mark.parametrize("widget_name", ["AttentionWidget", "HeadExplorer"])
def test_each_trait_is_documented_once_where_it_is_defined(widget_name):
    """A docstring under every public synced trait; the class docstring does not list them again."""
    import inspect
    import textwrap

    cls = {"AttentionWidget": AttentionWidget, "HeadExplorer": HeadExplorer}[widget_name]
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    documented = {}
    for statement, after in itertools.pairwise(body):
        if (
            isinstance(statement, ast.Assign)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            documented.update({target.id: after.value.value for target in statement.targets})
    public = [name for name in synced(cls) if not name.startswith("_")]
    assert [name for name in public if not documented.get(name, "").strip()] == []
    listed = [name for name in public if re.search(rf"^\s+{name}\b.*:", cls.__doc__, re.M)]
    assert listed == [], "the class docstring repeats the traits' documentation"
