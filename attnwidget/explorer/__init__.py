"""Exploring a corpus analysis: the HeadExplorer widget (``head_explorer``), its offline page
(``page``) and the report page (``report``)."""
