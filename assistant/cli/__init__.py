"""The CLI layer: the `assistant` console script, one module per command group.

This package is the composition root. It may import every package of ours (the core
`assistant`, `indexing`, `api`, `finetune`); nothing imports it. Build wiring (the URL
fetcher, build options from settings) lives here in ``wiring``. Heavy libraries (torch,
transformers, sentence-transformers, FAISS) are imported only inside the commands that
use them, so `assistant --help`, `--version`, `index status` and `costs` start fast.

Modules: ``root`` (the group, logging, environment), ``index`` (index build|status),
``query`` (search, ask; through a running server when ASSISTANT_SERVER_URL is set),
``remote`` (that HTTP client), ``serve``, ``evaluate`` (eval), ``costs``, ``finetune``
(finetune data|train), ``wiring`` (settings -> build objects), ``common``.
"""

from assistant.cli.root import main

__all__ = ["main"]
