"""Corpus statistics: Vig & Belinkov's analysis over many sentences (SPEC §2–§6).

``reader`` reads a corpus's entries, ``prepare`` annotates and aligns them, ``run`` drives
the forward passes, whose attention ``metrics`` (tensor code) or ``compiled`` (the CPU's
numba pass) adds to per-head sums; ``stats`` holds the result (``AttentionStats``),
``plots`` draws it, and ``output_folder`` writes it whole (``atomic``), resumable
(``coverage``, ``fingerprint``, ``snapshot``, ``interrupts``). ``analysis`` is the entry
point, ``analyze()``. ``registry`` lists every metric once (SPEC section, figure, titles,
key, bounds, definition, docs anchor) for the tables, plots, explorer and report;
``definitions`` says them in one sentence each, pointing to docs/metrics.md.
``shown_paths`` shows the corpus path relative to the page or file that prints it.
``files`` reads a corpus of many files (globs, gzip, JSON Lines); ``ray_engine`` (the
driver) and ``ray_worker`` (its workers) run the analysis on a Ray cluster (docs/cluster.md).
"""
