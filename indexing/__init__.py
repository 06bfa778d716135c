"""The index build job: sources -> loaders -> chunks -> embeddings -> an atomically published version.

What other packages use: ``build_index`` with its ``BuildOptions`` (and the ``BuildReport``
it returns), and the ``UrlFetcher`` for URL sources. Loaders, chunking and the sources
manifest are imported from their modules by the tests that exercise them.
"""

from indexing.build import BuildOptions, BuildReport, build_index
from indexing.fetch import UrlFetcher

__all__ = ["BuildOptions", "BuildReport", "UrlFetcher", "build_index"]
