"""LoRA fine-tuning on Q&A pairs made from the corpus, in the serving prompt format.

What other packages use: ``build_pairs`` (pairs with retrieved passages, given a
``Retriever``; ``DataReport`` says what it made), ``write_pairs`` and the ``CURATED_PAIRS``
the project keeps, and ``train`` with its ``TrainConfig``. torch and peft are imported
only when training starts.
"""

from finetune.config import TrainConfig
from finetune.corpus_pairs import DataReport, Retriever, build_pairs
from finetune.data import CURATED_PAIRS, write_pairs
from finetune.train import TrainResult, train

__all__ = [
    "CURATED_PAIRS",
    "DataReport",
    "Retriever",
    "TrainConfig",
    "TrainResult",
    "build_pairs",
    "train",
    "write_pairs",
]
