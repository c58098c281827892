"""A fault for the Ray workers of the tests (tests/corpus/test_ray_engine.py): installed in every worker
process of the test cluster by Ray's ``worker_process_setup_hook``.

The forward pass raises for any batch holding a sentence that contains :data:`MARK`, as
a broken input would on a real device (tests/test_faults.py does the same in one
process). No real corpus holds the mark, so every other run is untouched."""

from __future__ import annotations

MARK = "§FAULT§"


def fail_marked_batches() -> None:
    from attnwidget.transformer import forward

    real = forward._run_batch

    def run_batch(model, indices, batch, *args, **kwargs):
        if any(MARK in sentence.text for sentence in batch):
            raise RuntimeError("device-side assert triggered")
        return real(model, indices, batch, *args, **kwargs)

    forward._run_batch = run_batch
