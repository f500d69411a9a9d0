"""pygal without the import hook it leaves behind.

pygal appends a legacy finder (``find_module`` only, for its map plugins, unused here) to
``sys.meta_path``; while it is there, every failed import anywhere in the process makes Python 3.11
emit ``ImportWarning: PluginImportFixer.find_spec() not found`` (an error under the test suite's
warning filter). It is removed right after pygal is imported, before anything else is imported.
"""

from __future__ import annotations

import sys

import pygal
from pygal.style import Style

sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]

__all__ = ["Style", "pygal"]
