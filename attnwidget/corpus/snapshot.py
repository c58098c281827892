"""A corpus run's state at a chunk boundary, to go back to.

A run adds each chunk of sentences to its sums batch by batch. Stopped inside a chunk
(Ctrl-C, an error), it goes back to the end of the last whole chunk, so that what it keeps
is exactly the entries its coverage names, and a resumed run, whose first chunk is that
same chunk again, gives the numbers an uninterrupted run gives (the sums are added in the
same order). A snapshot copies the small state (sums, exemplar lists, summary) and
remembers how many chunks of variability cells there were, which only grow.
"""

from __future__ import annotations

import copy

from attnwidget.corpus.metrics import Vocabulary


class Snapshot:
    """Copy of an :class:`~attnwidget.corpus.stats.AttentionStats`' state; :meth:`restore` puts it back."""

    def __init__(self, stats):
        sums, tracker = stats.sums, stats.exemplar_tracker
        self.sums = {name: value.clone() for name, value in sums.sums.items()}
        self.pos_keys = list(sums.pos_vocab.keys)
        self.deprel_keys = list(sums.deprel_vocab.keys)
        self.cell_chunks = len(sums.cells)
        self.exemplars = (
            tracker.weight.clone(),
            tracker.sentence.clone(),
            tracker.i.clone(),
            tracker.j.clone(),
            dict(tracker.records),
        )
        self.summary = copy.deepcopy(stats.summary)

    def restore(self, stats) -> None:
        sums, tracker = stats.sums, stats.exemplar_tracker
        sums.sums = {name: value.clone() for name, value in self.sums.items()}
        sums.pos_vocab = Vocabulary(self.pos_keys)
        sums.deprel_vocab = Vocabulary(self.deprel_keys)
        sums.cells.truncate(self.cell_chunks)
        weight, sentence, i, j, records = self.exemplars
        tracker.weight, tracker.sentence, tracker.i, tracker.j = (t.clone() for t in (weight, sentence, i, j))
        tracker.records, tracker._pending = dict(records), {}
        stats.summary = copy.deepcopy(self.summary)
        stats._values = None
