"""lm-eval's IFEval checks, offline: the shims they need, in one place.

Importing `lm_eval.tasks.ifeval.instructions_util` calls `nltk.download("punkt_tab")`
when nltk's punkt_tab data is missing (offline: a refused connection and `[nltk_data]`
noise on stderr), then prints "Downloaded punkt_tab on rank 0" to stdout, downloaded or
not. Its `count_sentences` loads `tokenizers/punkt/english.pickle` (data nltk 3.9+ no
longer installs), and the `capital_word_frequency` check calls `nltk.word_tokenize`,
which needs punkt_tab. So, during that import only, `nltk.download` does nothing and its
print is dropped; afterwards both sentence splits use one Punkt tokenizer:

- `punkt_tab`: nltk's English model (IFEval's own parameters), when it is installed;
- `punkt-trained-offline`: Punkt trained here on bundled English text (hh-rlhf answers),
  keeping the learned abbreviations that hold a period (`e.g`, `u.s`) plus a short list
  of common ones: the single words it learns (`zoo`, `hour`) would join sentences.

The splitter changes sentence counts, so it belongs in the labeler's fingerprint.
langdetect (the `english_*` checks) is seeded, as its README asks for repeatable results.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import PACKAGE

PUNKT_TAB = "punkt_tab"
TRAINED = "punkt-trained-offline"
INSTALL = "verify-instructions needs lm-eval's IFEval checks: pip install 'prefsmith[verify]'"
CORPUS = PACKAGE / "data" / "hh-rlhf" / "harmless-base-test.first600.jsonl"
ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "inc", "ltd",
    "co", "corp", "dept", "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k",
))  # fmt: skip


@functools.cache
def sentence_splitter() -> str:
    """`punkt_tab` when nltk's English punkt_tab model is installed, else `punkt-trained-offline`."""
    try:
        import nltk
    except ImportError:
        return TRAINED  # load() names what to install
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
    except LookupError:
        return TRAINED
    return PUNKT_TAB


@contextmanager
def _no_download(nltk: Any, missing: bool) -> Iterator[None]:
    """While `instructions_util` is imported: no download, and not its print about one."""
    if not missing:
        yield
        return
    download = nltk.download
    nltk.download = lambda *args, **kwargs: False
    try:
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        nltk.download = download


def _corpus_text() -> str:
    """The turns of the bundled hh-rlhf dialogues, each once, as paragraphs."""
    turns: dict[str, None] = {}
    with open(CORPUS, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for text in (row["chosen"], row["rejected"]):
                for turn in re.split(r"\n\n(?:Human|Assistant):", text):
                    turns.setdefault(turn.strip())
    return "\n\n".join(turn for turn in turns if turn)


@functools.cache
def _trained_params() -> Any:
    from nltk.tokenize.punkt import PunktTrainer

    trainer = PunktTrainer()
    trainer.train(_corpus_text(), finalize=True)
    params = trainer.get_params()
    params.abbrev_types = {a for a in params.abbrev_types if "." in a} | ABBREVIATIONS
    return params


@functools.cache
def sentence_tokenizer() -> Any:
    """The Punkt sentence tokenizer `sentence_splitter()` names."""
    from nltk.tokenize import PunktTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    if sentence_splitter() == PUNKT_TAB:
        return PunktTokenizer("english")
    return PunktSentenceTokenizer(_trained_params())


class _NltkView:
    """`nltk` as `instructions_util` sees it: `word_tokenize` splits sentences with
    `sentence_tokenizer()` (the same as nltk's own when punkt_tab is installed)."""

    def __init__(self, nltk: Any) -> None:
        from nltk.tokenize import NLTKWordTokenizer

        self._nltk, self._words = nltk, NLTKWordTokenizer()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nltk, name)

    def word_tokenize(self, text: str, language: str = "english", preserve_line: bool = False):
        sentences = [text] if preserve_line else sentence_tokenizer().tokenize(text)
        return [token for sentence in sentences for token in self._words.tokenize(sentence)]


@functools.cache
def import_ifeval() -> Any:
    """`lm_eval.tasks.ifeval.utils`, its sentence splits made offline-safe (see above)."""
    try:
        import langdetect
        import nltk

        with _no_download(nltk, sentence_splitter() == TRAINED):
            from lm_eval.tasks.ifeval import instructions_util
        from lm_eval.tasks.ifeval import utils
    except ImportError:
        raise UserError(INSTALL) from None
    langdetect.DetectorFactory.seed = 0
    instructions_util._get_sentence_tokenizer = sentence_tokenizer
    instructions_util.nltk = _NltkView(nltk)
    return utils
