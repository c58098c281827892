"""Variability's kept cells (SPEC §3): in memory up to a budget, in a temporary file beyond.

Variability needs |α(x)_c − ᾱ_c| for every counted cell c of each long sentence's first
N×N block, and the corpus mean ᾱ is known only at the end, so each such cell's weights are
kept: ``[cells, layers, heads]`` float32 plus the cell's index i·N + j (int16). That is
about 23 kB a sentence for a 6-layer, 12-head model; in RAM it would grow with the corpus,
so once the chunks in memory pass :data:`SPILL_BYTES` they are appended to two unnamed
temporary files (deleted when the store is) and read back one chunk at a time.

Chunks keep their boundaries: variability is summed chunk by chunk, so the same chunks
give bit-identical values after a save and a load.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import numpy as np

#: Cells kept in memory before they go to the temporary files.
SPILL_BYTES = 8 << 20


class CellStore:
    """An append-only list of (values ``[c, L, H]`` float32, cell ids ``[c]`` int16) chunks."""

    def __init__(self, num_layers: int, num_heads: int):
        self.heads = (num_layers, num_heads)
        self._memory: list[tuple[np.ndarray, np.ndarray]] = []
        self._memory_bytes = 0
        self._files = None  # (values, ids) temporary files, opened on the first spill
        self._spilled: list[int] = []  # cells per chunk in the files, in order

    def append(self, values, ids) -> None:
        """Add one chunk (numpy arrays or CPU/GPU tensors); an empty chunk is dropped."""
        values = np.ascontiguousarray(_numpy(values), dtype=np.float32)
        ids = np.ascontiguousarray(_numpy(ids), dtype=np.int16)
        if values.shape[1:] != self.heads or len(values) != len(ids):
            raise ValueError(
                f"cells of shape {values.shape} and ids {ids.shape} do not fit "
                f"{self.heads[0]} layers × {self.heads[1]} heads"
            )
        if not len(ids):
            return
        self._memory.append((values, ids))
        self._memory_bytes += values.nbytes + ids.nbytes
        if self._memory_bytes > SPILL_BYTES:
            self._spill()

    def extend(self, other: CellStore) -> None:
        for values, ids in other.chunks():
            self.append(values, ids)

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Chunks ``start … stop−1`` (default: all) in the order added; spilled ones are
        read back one at a time (those before ``start`` are not read)."""
        stop = len(self) if stop is None else min(stop, len(self))
        if self._spilled and start < len(self._spilled):
            values_file, ids_file = self._files
            values_file.flush()
            ids_file.flush()
            per_cell = self.heads[0] * self.heads[1]
            before = sum(self._spilled[:start])
            value_at, id_at = before * per_cell * 4, before * 2
            for n in self._spilled[start : min(stop, len(self._spilled))]:
                values = _read(values_file, value_at, n * per_cell * 4, np.float32).reshape(n, *self.heads)
                ids = _read(ids_file, id_at, n * 2, np.int16)
                value_at += values.nbytes
                id_at += ids.nbytes
                yield values, ids
        first = max(0, start - len(self._spilled))
        yield from self._memory[first : max(first, stop - len(self._spilled))]

    def truncate(self, chunks: int) -> None:
        """Keep the first ``chunks`` chunks only (a corpus pass undoing a chunk it abandoned)."""
        if chunks >= len(self):
            return
        if chunks <= len(self._spilled):
            self._spilled = self._spilled[:chunks]
            self._memory, self._memory_bytes = [], 0
            per_cell = self.heads[0] * self.heads[1]
            kept = sum(self._spilled)
            if self._files is not None:
                values_file, ids_file = self._files
                values_file.truncate(kept * per_cell * 4)  # appends seek to the end
                ids_file.truncate(kept * 2)
        else:
            self._memory = self._memory[: chunks - len(self._spilled)]
            self._memory_bytes = sum(v.nbytes + i.nbytes for v, i in self._memory)

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self._spilled) + len(self._memory)

    @property
    def cells(self) -> int:
        return sum(self._spilled) + sum(len(ids) for _, ids in self._memory)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values ``[cells, L, H]``, ids ``[cells]``, cells per chunk) for saving. Spilled
        cells come as read-only memory maps of the temporary files, not copies in RAM."""
        if not len(self):
            return (np.zeros((0, *self.heads), np.float32), np.zeros(0, np.int16), np.zeros(0, np.int64))
        if self._memory:
            self._spill()
        values_file, ids_file = self._files
        values_file.flush()
        ids_file.flush()
        n = sum(self._spilled)
        values = np.memmap(values_file, dtype=np.float32, mode="r", shape=(n, *self.heads))
        ids = np.memmap(ids_file, dtype=np.int16, mode="r", shape=(n,))
        return values, ids, np.array(self._spilled, dtype=np.int64)

    @classmethod
    def from_arrays(cls, values: np.ndarray, ids: np.ndarray, chunks: np.ndarray | None) -> CellStore:
        """The store :meth:`arrays` describes (``chunks`` None: one chunk)."""
        out = cls(*values.shape[1:])
        sizes = [len(ids)] if chunks is None else [int(c) for c in chunks]
        start = 0
        for size in sizes:
            out.append(values[start : start + size], ids[start : start + size])
            start += size
        return out

    def _spill(self) -> None:
        if self._files is None:
            self._files = (
                tempfile.TemporaryFile(prefix="attnwidget-cells-"),  # noqa: SIM115 - the file outlives this block: its owner closes it
                tempfile.TemporaryFile(prefix="attnwidget-cell-ids-"),  # noqa: SIM115 - the file outlives this block: its owner closes it
            )
        values_file, ids_file = self._files
        values_file.seek(0, 2)
        ids_file.seek(0, 2)
        for values, ids in self._memory:
            values_file.write(values.tobytes())
            ids_file.write(ids.tobytes())
            self._spilled.append(len(ids))
        self._memory, self._memory_bytes = [], 0

    def __del__(self):
        for handle in self._files or ():
            handle.close()


def _numpy(array) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, possibly on a GPU
        return array.detach().cpu().numpy()
    return np.asarray(array)


def _read(handle, offset: int, nbytes: int, dtype) -> np.ndarray:
    handle.seek(offset)
    data = bytearray(nbytes)  # writable, so torch.from_numpy takes it as is
    got = handle.readinto(data)
    if got != nbytes:
        raise OSError(
            f"the temporary file of variability cells is shorter than expected ({got} of {nbytes} bytes at {offset})"
        )
    return np.frombuffer(data, dtype=dtype)
