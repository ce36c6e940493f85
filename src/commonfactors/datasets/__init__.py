"""Named datasets: the bundled synthetic presets and real trials and meta-analytic data.

:func:`load_dataset` returns a new DataFrame in the canonical schema with its source, licence and
citation in ``attrs``; :func:`list_datasets` lists what ships.
"""

from .loader import data_dir, list_datasets, load_dataset

__all__ = ["load_dataset", "list_datasets", "data_dir"]
