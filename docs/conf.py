"""Sphinx configuration: `make docs`.

`make docs` runs ``sphinx-build -W --keep-going -n`` (warnings are errors,
nitpicky: every cross-reference must resolve), then ``tools/check_docs.py``
over the HTML (code wider than the column, leaked markup, broken internal
links). autodoc imports the package from the repository root, so the C
extension must be built in place first (`make docs` depends on `make build`).
The build needs no network: the Python inventory for intersphinx is a file in
``_intersphinx/``.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "_ext"))

import rediscluster  # noqa: E402  (fails loudly if the extension is not built)

project = "rediscluster"
author = "the rediscluster contributors"
copyright = "2026, the rediscluster contributors (MIT licence)"
release = rediscluster.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "myst_parser",
    "rc_tables",
    "rc_api",
    "rc_bench",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_intersphinx"]
# engine.md and reliability.md are shared with the repository view; their
# headings start at level 1 inside a chapter.
myst_heading_anchors = 3
myst_enable_extensions = ["attrs_block", "attrs_inline"]
suppress_warnings = ["myst.header"]

# Every reference must resolve (-n in `make docs`): a name that autodoc cannot
# link is a documentation bug, not noise. The few exceptions are listed here
# with their reason.
nitpicky = True
nitpick_ignore = [
    # redis-py's classes appear as extra bases of the exceptions only when
    # redis-py is installed; the docs build does not install it.
    ("py:class", "redis.exceptions.RedisError"),
]

# "--cluster", "--base-port": no en dashes made from double hyphens, and no
# curly quotes in option names; only ellipses are typeset.
smartquotes_action = "e"

# Autodoc: every page says which members it shows (no global "members": it
# would replace the explicit lists of the directives).
autodoc_default_options = {}
autodoc_member_order = "bysource"
autoclass_content = "class"
autodoc_class_signature = "mixed"
autodoc_typehints = "none"
add_module_names = False
python_use_unqualified_type_names = True

# Python's own inventory, shipped with the sources (from Debian's
# python3.11-doc): the build works offline, in CI too.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", os.path.join(HERE, "_intersphinx", "python3.inv")),
}

html_theme = "furo"
html_title = "rediscluster %s" % release
html_short_title = "rediscluster"
html_static_path = ["_static"]
html_css_files = ["rediscluster.css"]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}
pygments_style = "friendly"
pygments_dark_style = "monokai"
