"""Text and syntax: CoNLL-U reading, spaCy parsing, and words aligned to a model's tokens.

The data's first step: ``conllu`` (the format) → ``syntax`` (one sentence's words, tags and
relations) → ``sentence`` (those words aligned to a tokenizer's tokens, SPEC §1).
"""
