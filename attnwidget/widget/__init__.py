"""The AttentionWidget: one input's attention, shown in a notebook or an exported page.

``attention_widget`` is the widget; ``model_input`` runs the model for it; ``payload``
encodes what it sends to the browser; ``protocol`` answers the views' requests (for the
HeadExplorer too); ``js_bundles`` loads the built views; ``lifetime``
frees its memory when it closes; ``export`` writes a self-contained HTML page;
``default_heads`` picks the heads it opens on, by a rule the view states.
"""
