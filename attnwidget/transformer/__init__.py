"""Running a transformer: loading it, and catching its attention (and queries and keys).

``loading`` gives a model with eager attention; ``forward`` runs aligned sentences through
it in batches (``eager`` watches each layer's attention call); ``architectures`` covers
sentence pairs and encoder–decoder models, ``generation`` generated text, ``neurons`` the
queries and keys behind one head's weights.
"""
