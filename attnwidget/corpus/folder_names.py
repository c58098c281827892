"""The names of the files in an output folder, shared by ``stats`` (which reads them back)
and ``output_folder`` (which writes them)."""

STATS_FILE = "stats.npz"
CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.npz"
STATE_FORMAT = "attnwidget.checkpoint/1"
