"""Exploring a corpus analysis: the HeadExplorer widget and the offline report page."""
