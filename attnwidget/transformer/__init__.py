"""Running a transformer: loading it, and catching its attention (and queries and keys).

``loading`` gives a model with eager attention (``load_model`` chooses: ``hf_loading`` loads a
Hugging Face model, ``library_models`` tells a library's object and the extra it needs);
``forward`` runs aligned sentences through it in batches (``eager`` watches each layer's attention call); ``architectures`` covers
sentence pairs and encoder–decoder models, ``generation`` generated text, ``neurons`` the
queries and keys behind one head's weights. ``adapters`` reads TransformerLens and nnsight
models as loaded models (``lens`` runs a TransformerLens model through its hook points,
``nnsight_models`` unwraps an nnsight one), and ``activation_cache`` takes the patterns out of
a TransformerLens ``ActivationCache``.
"""
