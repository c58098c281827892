"""The attention widget in a marimo app (`marimo edit notebooks/marimo_app.py`, or
`marimo run` for the app view). mo.ui.anywidget wraps the widget: its traits are
`widget.value` in other cells, and a trait set in Python redraws the view."""

# marimo's own file form: a cell shows its last expression and returns its names.
# ruff: noqa: B018

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo

    import attnwidget as aw

    attention = aw.AttentionWidget("The keys to the cabinet are missing.", model=aw.OFFLINE_MODEL, annotations="spacy")
    widget = mo.ui.anywidget(attention)
    widget
    return attention, mo, widget


@app.cell
def _(mo, widget):
    # Re-runs whenever a trait changes in the view: the layer and heads chosen there.
    mo.md(f"selected layer: **{widget.value['layer']}** · heads: **{widget.value['heads']}**")
    return


@app.cell
def _(mo):
    last_layer = mo.ui.button(label="show the last layer", value=0, on_click=lambda n: n + 1)
    last_layer
    return (last_layer,)


@app.cell
def _(attention, last_layer):
    # A trait set from Python: the view follows.
    if last_layer.value:
        attention.layer = attention.num_layers - 1
    return


if __name__ == "__main__":
    app.run()
