"""Sphinx configuration: `make docs` (sphinx-build -W --keep-going -b html docs docs/_build/html).

autodoc imports the package from the repository root, so the C extension must be
built in place first (`make docs` depends on `make build`).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "_ext"))

import rediscluster  # noqa: E402  (fails loudly if the extension is not built)

project = "rediscluster"
author = "rediscluster contributors"
copyright = "the rediscluster contributors"
release = rediscluster.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "rc_tables",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# engine.md and reliability.md are shared with the repository view; their
# headings start at level 1 inside a chapter.
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "show-inheritance": True,
}
autodoc_member_order = "groupwise"
autoclass_content = "class"
# The command methods' docstrings are short prose, not numpydoc; references
# to names that are not documented here must not fail the build.
nitpicky = False

html_theme = "alabaster"
html_title = "rediscluster %s" % release
