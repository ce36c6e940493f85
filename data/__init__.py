"""The bundled data files, installed as the package ``commonfactors._data``.

``data/real/`` (real datasets with source, licence and citation) and ``data/synthetic/``
(written by ``make data``) stay at the top of the repository; the build maps this folder onto
the package ``commonfactors._data`` (see ``setup.py``), so a wheel carries the same files and
:func:`commonfactors.load_dataset` finds them with :mod:`importlib.resources`.
"""
