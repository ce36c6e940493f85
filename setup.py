"""Package layout that pyproject.toml cannot express on its own.

Everything else (metadata, dependencies) is in pyproject.toml. The library lives in ``src/``;
the repository's top-level ``data/`` folder is installed as the package
``commonfactors._data`` (``data/real/`` as ``commonfactors._data.real``, and so on) so that
wheels and editable installs carry every bundled file, including datasets added later.
"""

from pathlib import Path

from setuptools import find_packages, setup

DATA = Path(__file__).resolve().parent / "data"
data_dirs = sorted(
    p.relative_to(DATA).as_posix()
    for p in DATA.rglob("*")
    if p.is_dir() and "__pycache__" not in p.parts and not p.name.startswith(".")
)
data_packages = ["commonfactors._data"] + [
    "commonfactors._data." + d.replace("/", ".") for d in data_dirs
]

setup(
    packages=find_packages("src") + data_packages,
    package_dir={"": "src", "commonfactors._data": "data"},
    package_data={
        "commonfactors": ["py.typed"],
        # every file of data/ (CSV, compressed, JSON, README ...): new datasets need no change
        **{pkg: ["*"] for pkg in data_packages},
    },
    exclude_package_data={pkg: ["*.pyc"] for pkg in data_packages},
)
